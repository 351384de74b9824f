import type { Bus } from '@app/bus';
import { EventRepository, HistoryDatabase } from '@app/history';
import { strictMock } from '@app/testing';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime, until } from '../test/manual.time';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { WebhookOutbox } from './webhook.outbox';
import { makeSubscription } from '../test/subscription.factory';

const SUBSCRIPTIONS = ['a', 'b'].map((id) => makeSubscription(id));

describe('DeadLetterPublisher', () => {
  let time: ManualTime;
  let db: HistoryDatabase;
  let outbox: WebhookOutbox;
  let publish: jest.Mock;
  let errors: string[];
  let stop: AbortController;
  let publisher: DeadLetterPublisher;

  beforeEach(() => {
    time = new ManualTime();
    db = new HistoryDatabase({ path: ':memory:', clock: time });
    outbox = new WebhookOutbox(db, { clock: time });
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
  function kill(n: number): void {
    const events = new EventRepository(db, time);
    const event = makeIncident(n);
    events.save(event);
    outbox.enqueue(events.get(event.id)!, SUBSCRIPTIONS);
    for (const { id } of SUBSCRIPTIONS) {
      outbox.kill(outbox.due(id, time.now(), 1)[0]!.id, {
        url: `https://x/${id}`,
        attempts: 1,
        reason: `r${n}`,
      });
    }
  }

  const sent = () =>
    publish.mock.calls.map(([topic, key, value]) => [topic.name, key, value.eventId]);

  it('publishes every unpublished letter oldest first, keyed by subscription, then waits', async () => {
    kill(1);
    kill(2);
    const running = publisher.run(stop.signal);

    await until('published', () => outbox.unpublished().length === 0);
    expect(sent()).toEqual([
      ['vigil.webhooks.dlq', 'a', makeIncident(1).id],
      ['vigil.webhooks.dlq', 'b', makeIncident(1).id],
      ['vigil.webhooks.dlq', 'a', makeIncident(2).id],
      ['vigil.webhooks.dlq', 'b', makeIncident(2).id],
    ]);

    kill(3);
    publisher.notify();
    await until('published', () => outbox.unpublished().length === 0);
    expect(publish).toHaveBeenCalledTimes(6);

    stop.abort();
    await expect(running).resolves.toBeUndefined();
  });

  it('tries a refused letter again, first, waiting longer each time up to the maximum', async () => {
    kill(1);
    for (let i = 0; i < 4; i++) publish.mockRejectedValueOnce(new Error('leader not available'));
    const running = publisher.run(stop.signal);

    await until('published', () => outbox.unpublished().length === 0);
    expect(time.slept).toEqual([100, 200, 300, 300]);
    expect(sent().map(([, key]) => key)).toEqual(['a', 'a', 'a', 'a', 'a', 'b']);
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/for a not published yet \(leader not available\)/);

    stop.abort();
    await running;
  });

  it('stops while waiting out a refusal', async () => {
    kill(1);
    publish.mockRejectedValue(new Error('down'));
    time.auto = false;
    const running = publisher.run(stop.signal);
    await until('waiting', () => time.pendingSleeps === 1);

    stop.abort();
    await expect(running).resolves.toBeUndefined();
    expect(outbox.unpublished()).toHaveLength(2);
  });
});
