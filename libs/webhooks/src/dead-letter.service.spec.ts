import { EventRepository, HistoryDatabase } from '@app/history';
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
  let db: HistoryDatabase;
  let outbox: WebhookOutbox;
  let notify: jest.Mock;
  let logs: string[];
  let service: DeadLetterService;
  const soc = makeSubscription('soc');
  const pager = makeSubscription('pager');
  const gone = makeSubscription('gone');

  beforeEach(() => {
    time = new ManualTime();
    db = new HistoryDatabase({ path: ':memory:', clock: time });
    outbox = new WebhookOutbox(db, { clock: time });
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
  function kill(n: number, ...ids: string[]): void {
    const events = new EventRepository(db, time);
    const event = makeIncident(n);
    events.save(event);
    outbox.enqueue(events.get(event.id)!, [soc, pager, gone]);
    for (const id of ids) {
      const row = outbox.due(id, time.now(), 10).find((d) => d.eventId === event.id)!;
      outbox.kill(row.id, { url: `https://hooks.example.com/${id}`, attempts: 9, reason: 'r' });
    }
  }

  const delivery = (id: string, n: number) => webhookDeliveryId(id, makeIncident(n).id);

  it('lists dead letters a page at a time, with where every subscription stands', () => {
    kill(1, 'soc', 'gone');
    kill(2, 'soc');
    kill(3, 'soc', 'pager');

    const first = service.list({ pageSize: 2 });
    expect(first.deadLetters.map((d) => d.deliveryId)).toEqual([
      delivery('soc', 1),
      delivery('gone', 1),
    ]);
    expect(first.counts).toEqual([
      { subscriptionId: 'gone', pending: 2, dead: 1, configured: false },
      { subscriptionId: 'pager', pending: 2, dead: 1, configured: true },
      { subscriptionId: 'soc', pending: 0, dead: 3, configured: true },
    ]);
    const rest = service.list({ pageSize: 2, afterId: first.nextAfterId! });
    const last = service.list({ pageSize: 2, afterId: rest.nextAfterId! });
    expect(last.nextAfterId).toBeUndefined();
    expect([...rest.deadLetters, ...last.deadLetters].map((d) => d.deliveryId)).toEqual([
      delivery('soc', 2),
      delivery('soc', 3),
      delivery('pager', 3),
    ]);
    expect(
      service.list({ pageSize: 10, subscriptionId: 'soc' }).deadLetters.map((d) => d.eventId),
    ).toEqual([1, 2, 3].map((n) => makeIncident(n).id));
  });

  it('replays dead letters by delivery id and wakes the dispatcher', () => {
    kill(1, 'soc', 'pager');
    kill(2, 'soc');

    const replayed = service.replay([delivery('soc', 2), delivery('pager', 1)]);

    expect(replayed.map((d) => d.deliveryId)).toEqual([delivery('soc', 2), delivery('pager', 1)]);
    expect(outbox.listDead().map((d) => d.deliveryId)).toEqual([delivery('soc', 1)]);
    expect(outbox.due('soc', time.now(), 10)).toEqual([
      expect.objectContaining({ deliveryId: delivery('soc', 2), attempts: 0 }),
    ]);
    expect(notify).toHaveBeenCalledTimes(1);
    expect(logs).toEqual(['webhooks: 2 dead deliveries replayed (pager, soc)']);
  });

  it('replays none when one id is unknown or its subscription is gone', () => {
    kill(1, 'soc', 'gone');

    const unknown = () => service.replay([delivery('soc', 1), delivery('soc', 9)]);
    expect(unknown).toThrow(
      new WebhookError(
        WebhookErrorCode.DEAD_LETTER_NOT_FOUND,
        `dead letter ${delivery('soc', 9)} not found (replayed already, pruned, or never dead)`,
      ),
    );
    expect(() => service.replay([delivery('gone', 1)])).toThrow(
      expect.objectContaining({ code: WebhookErrorCode.SUBSCRIPTION_NOT_CONFIGURED }),
    );
    expect(outbox.listDead()).toHaveLength(2);
    expect(notify).not.toHaveBeenCalled();
  });

  it('replays all of the configured subscriptions, or of one, leaving the unconfigured', () => {
    kill(1, 'soc', 'pager', 'gone');
    kill(2, 'soc', 'pager');

    expect(service.replayAll('pager')).toBe(2);
    expect(service.replayAll()).toBe(2);
    expect(service.replayAll()).toBe(0);

    expect(outbox.listDead().map((d) => d.subscriptionId)).toEqual(['gone']);
    expect(() => service.replayAll('gone')).toThrow(/subscription gone is not configured/);
    expect(notify).toHaveBeenCalledTimes(2);
  });
});
