import { EventRepository, HistoryDatabase, SqliteSqlDatabase } from '@app/history';
import { strictMock } from '@app/testing';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime } from '../test/manual.time';
import { makeSubscription } from '../test/subscription.factory';
import { DeadLetterService } from './dead-letter.service';
import { webhookDeliveryId } from './delivery-id';
import { WebhookError, WebhookErrorCode } from './webhook.error';
import { WebhookOutbox } from './webhook.outbox';

describe('DeadLetterService', () => {
  let time: ManualTime;
  let db: SqliteSqlDatabase;
  let outbox: WebhookOutbox;
  let notify: jest.Mock;
  let logs: string[];
  let service: DeadLetterService;
  const soc = makeSubscription('soc');
  const pager = makeSubscription('pager');
  const gone = makeSubscription('gone');

  beforeEach(async () => {
    time = new ManualTime();
    db = new SqliteSqlDatabase(new HistoryDatabase({ path: ':memory:', clock: time }), true);
    outbox = await WebhookOutbox.open(db, { clock: time });
    notify = jest.fn();
    logs = [];
    service = new DeadLetterService({
      outbox,
      subscriptions: [soc, pager],
      dispatcher: strictMock('dispatcher', { notify }),
      logger: strictMock('logger', { log: (message: string) => logs.push(message) }),
    });
  });

  afterEach(() => db.close());

  /** Event n given up on for each subscription named, oldest first. */
  async function kill(n: number, ...ids: string[]): Promise<void> {
    const events = await EventRepository.open(db, time);
    const event = makeIncident(n);
    await events.save(event);
    await outbox.enqueue((await events.get(event.id))!, [soc, pager, gone]);
    for (const id of ids) {
      const row = (await outbox.due(id, time.now(), 10)).find((d) => d.eventId === event.id)!;
      await outbox.kill(row.id, {
        url: `https://hooks.example.com/${id}`,
        attempts: 9,
        reason: 'r',
      });
    }
  }

  const delivery = (id: string, n: number) => webhookDeliveryId(id, makeIncident(n).id);

  it('lists dead letters a page at a time, with where every subscription stands', async () => {
    await kill(1, 'soc', 'gone');
    await kill(2, 'soc');
    await kill(3, 'soc', 'pager');

    const first = await service.list({ pageSize: 2 });
    expect(first.deadLetters.map((d) => d.deliveryId)).toEqual([
      delivery('soc', 1),
      delivery('gone', 1),
    ]);
    expect(first.counts).toEqual([
      { subscriptionId: 'gone', pending: 2, dead: 1, configured: false },
      { subscriptionId: 'pager', pending: 2, dead: 1, configured: true },
      { subscriptionId: 'soc', pending: 0, dead: 3, configured: true },
    ]);
    const rest = await service.list({ pageSize: 2, afterId: first.nextAfterId! });
    const last = await service.list({ pageSize: 2, afterId: rest.nextAfterId! });
    expect(last.nextAfterId).toBeUndefined();
    expect([...rest.deadLetters, ...last.deadLetters].map((d) => d.deliveryId)).toEqual([
      delivery('soc', 2),
      delivery('soc', 3),
      delivery('pager', 3),
    ]);
    expect(
      (await service.list({ pageSize: 10, subscriptionId: 'soc' })).deadLetters.map(
        (d) => d.eventId,
      ),
    ).toEqual([1, 2, 3].map((n) => makeIncident(n).id));
  });

  it('replays dead letters by delivery id and wakes the dispatcher', async () => {
    await kill(1, 'soc', 'pager');
    await kill(2, 'soc');

    const replayed = await service.replay([delivery('soc', 2), delivery('pager', 1)]);

    expect(replayed.map((d) => d.deliveryId)).toEqual([delivery('soc', 2), delivery('pager', 1)]);
    expect((await outbox.listDead()).map((d) => d.deliveryId)).toEqual([delivery('soc', 1)]);
    expect(await outbox.due('soc', time.now(), 10)).toEqual([
      expect.objectContaining({ deliveryId: delivery('soc', 2), attempts: 0 }),
    ]);
    expect(notify).toHaveBeenCalledTimes(1);
    expect(logs).toEqual(['webhooks: 2 dead deliveries replayed (pager, soc)']);
  });

  it('replays none when one id is unknown or its subscription is gone', async () => {
    await kill(1, 'soc', 'gone');

    const unknown = () => service.replay([delivery('soc', 1), delivery('soc', 9)]);
    await expect(unknown()).rejects.toThrow(
      new WebhookError(
        WebhookErrorCode.DEAD_LETTER_NOT_FOUND,
        `dead letter ${delivery('soc', 9)} not found (replayed already, pruned, or never dead)`,
      ),
    );
    await expect(service.replay([delivery('gone', 1)])).rejects.toThrow(
      expect.objectContaining({ code: WebhookErrorCode.SUBSCRIPTION_NOT_CONFIGURED }),
    );
    expect(await outbox.listDead()).toHaveLength(2);
    expect(notify).not.toHaveBeenCalled();
  });

  it('replays all of the configured subscriptions, or of one, leaving the unconfigured', async () => {
    await kill(1, 'soc', 'pager', 'gone');
    await kill(2, 'soc', 'pager');

    expect(await service.replayAll('pager')).toBe(2);
    expect(await service.replayAll()).toBe(2);
    expect(await service.replayAll()).toBe(0);

    expect((await outbox.listDead()).map((d) => d.subscriptionId)).toEqual(['gone']);
    await expect(service.replayAll('gone')).rejects.toThrow(/subscription gone is not configured/);
    expect(notify).toHaveBeenCalledTimes(2);
  });
});
