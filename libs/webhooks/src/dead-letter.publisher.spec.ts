import type { Bus } from '@app/bus';
import { EventRepository, HistoryDatabase, SqliteSqlDatabase } from '@app/history';
import { strictMock } from '@app/testing';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime, until } from '../test/manual.time';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { WebhookOutbox } from './webhook.outbox';
import { makeSubscription } from '../test/subscription.factory';

const SUBSCRIPTIONS = ['a', 'b'].map((id) => makeSubscription(id));

describe('DeadLetterPublisher', () => {
  let time: ManualTime;
  let db: SqliteSqlDatabase;
  let outbox: WebhookOutbox;
  let publish: jest.Mock;
  let errors: string[];
  let stop: AbortController;
  let publisher: DeadLetterPublisher;

  beforeEach(async () => {
    time = new ManualTime();
    db = new SqliteSqlDatabase(new HistoryDatabase({ path: ':memory:', clock: time }), true);
    outbox = await WebhookOutbox.open(db, { clock: time });
    publish = jest.fn(async () => undefined);
    errors = [];
    stop = new AbortController();
    publisher = new DeadLetterPublisher({
      outbox,
      bus: strictMock<Bus>('bus', { publish }),
      sleeper: time,
      logger: { error: (message) => errors.push(message) },
      retry: { initialMs: 100, maxMs: 300 },
    });
  });

  afterEach(() => db.close());

  /** Gives up on event n for both subscriptions. */
  async function kill(n: number): Promise<void> {
    const events = await EventRepository.open(db, time);
    const event = makeIncident(n);
    await events.save(event);
    await outbox.enqueue((await events.get(event.id))!, SUBSCRIPTIONS);
    for (const { id } of SUBSCRIPTIONS) {
      await outbox.kill((await outbox.due(id, time.now(), 1))[0]!.id, {
        url: `https://x/${id}`,
        attempts: 1,
        reason: `r${n}`,
      });
    }
  }

  const sent = () =>
    publish.mock.calls.map(([topic, key, value]) => [topic.name, key, value.eventId]);

  it('publishes every unpublished letter oldest first, keyed by subscription, then waits', async () => {
    await kill(1);
    await kill(2);
    const running = publisher.run(stop.signal);

    await until('published', async () => (await outbox.unpublished()).length === 0);
    expect(sent()).toEqual([
      ['vigil.webhooks.dlq', 'a', makeIncident(1).id],
      ['vigil.webhooks.dlq', 'b', makeIncident(1).id],
      ['vigil.webhooks.dlq', 'a', makeIncident(2).id],
      ['vigil.webhooks.dlq', 'b', makeIncident(2).id],
    ]);

    await kill(3);
    publisher.notify();
    await until('published', async () => (await outbox.unpublished()).length === 0);
    expect(publish).toHaveBeenCalledTimes(6);

    stop.abort();
    await expect(running).resolves.toBeUndefined();
  });

  it('tries a refused letter again, first, waiting longer each time up to the maximum', async () => {
    await kill(1);
    for (let i = 0; i < 4; i++) publish.mockRejectedValueOnce(new Error('leader not available'));
    const running = publisher.run(stop.signal);

    await until('published', async () => (await outbox.unpublished()).length === 0);
    expect(time.slept).toEqual([100, 200, 300, 300]);
    expect(sent().map(([, key]) => key)).toEqual(['a', 'a', 'a', 'a', 'a', 'b']);
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/for a not published yet \(leader not available\)/);

    stop.abort();
    await running;
  });

  it('stops while waiting out a refusal', async () => {
    await kill(1);
    publish.mockRejectedValue(new Error('down'));
    time.auto = false;
    const running = publisher.run(stop.signal);
    await until('waiting', () => time.pendingSleeps === 1);

    stop.abort();
    await expect(running).resolves.toBeUndefined();
    expect(await outbox.unpublished()).toHaveLength(2);
  });
});
