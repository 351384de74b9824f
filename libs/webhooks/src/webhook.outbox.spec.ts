import type { SecurityEvent } from '@app/contracts';
import { EventRepository, HistoryDatabase, type StoredEvent } from '@app/history';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime } from '../test/manual.time';
import { makeSubscription } from '../test/subscription.factory';
import { webhookDeliveryId } from './delivery-id';
import { OUTBOX_MIGRATIONS } from './outbox.migrations';
import { WebhookBodyBuilder } from './webhook-body.builder';
import { WebhookOutbox } from './webhook.outbox';
import type { WebhookSubscription } from './webhook-subscription';

const subscription = (id: string, filter: WebhookSubscription['filter'] = {}) =>
  makeSubscription(id, { filter });

describe('WebhookOutbox', () => {
  let db: HistoryDatabase;
  let time: ManualTime;
  let events: EventRepository;
  let outbox: WebhookOutbox;
  const bodies = new WebhookBodyBuilder();
  const all = subscription('all');
  const critical = subscription('critical', { minSeverity: 'critical' });
  const cam2 = subscription('cam2', { streamIds: ['cam-2'] });

  beforeEach(() => {
    time = new ManualTime();
    db = new HistoryDatabase({ path: ':memory:', clock: time });
    events = new EventRepository(db, time);
    outbox = new WebhookOutbox(db, { bodies, clock: time });
  });

  afterEach(() => db.close());

  function save(n: number, overrides: Partial<SecurityEvent> = {}): StoredEvent {
    const event = makeIncident(n, overrides);
    events.save(event, { streamLabels: { camera: 'Lobby' } });
    return events.get(event.id)!;
  }

  const first = (subscriptionId: string) => outbox.due(subscriptionId, time.now(), 1)[0];

  it('brings its tables in through named outbox/ migrations, once', () => {
    expect(db.appliedMigrations().map((m) => m.name)).toEqual([
      'events/001-create',
      'events/002-incident-versions',
      'events/003-sites',
      'outbox/001-create',
      'outbox/002-retry-budget-delivery-ids',
    ]);
    new WebhookOutbox(db, { clock: time });
    expect(db.appliedMigrations()).toHaveLength(5);
  });

  it('upgrades an outbox from before the retry budget, keeping every row', () => {
    const old = new HistoryDatabase({ path: ':memory:', clock: time });
    try {
      old.migrate([OUTBOX_MIGRATIONS[0]!]);
      const connection = old.connection;
      connection
        .prepare(
          `INSERT INTO webhook_outbox (subscription_id, event_id, event_seq, body, created_at,
             attempts, next_attempt_at, last_error) VALUES ('soc', 'e1', 1, '{"version":1}', 1000,
             3, 9000, 'HTTP 503')`,
        )
        .run();
      connection
        .prepare(
          `INSERT INTO webhook_dead (id, subscription_id, url, event_id, event_seq, body,
             created_at, attempts, reason, failed_at) VALUES (7, 'soc', 'https://x/', 'e0', 0, '{}',
             500, 8, 'HTTP 503, gave up after 8 attempts', 700)`,
        )
        .run();

      const upgraded = new WebhookOutbox(old, { clock: time });

      expect(upgraded.due('soc', 9000, 10)).toEqual([
        {
          id: 1,
          deliveryId: webhookDeliveryId('soc', 'e1'),
          subscriptionId: 'soc',
          eventId: 'e1',
          eventSeq: 1,
          body: '{"version":1}',
          createdAt: 1000,
          // the budget of a row queued before the upgrade counts from when it was queued
          retryFrom: 1000,
          attempts: 3,
          nextAttemptAt: 9000,
          lastError: 'HTTP 503',
        },
      ]);
      expect(upgraded.findDead(webhookDeliveryId('soc', 'e0'))).toMatchObject({
        id: 7,
        eventId: 'e0',
        attempts: 8,
      });
    } finally {
      old.close();
    }
  });

  it('queues a delivery for each subscription whose filter matches, with the body once', () => {
    const stored = save(1, { streamId: 'cam-2', severity: 'high' });

    expect(outbox.enqueue(stored, [all, critical, cam2])).toEqual(['all', 'cam2']);

    expect(outbox.pendingCount()).toBe(2);
    expect(outbox.pendingCount('critical')).toBe(0);
    expect(first('all')).toEqual({
      id: 1,
      deliveryId: webhookDeliveryId('all', stored.event.id),
      subscriptionId: 'all',
      eventId: stored.event.id,
      eventSeq: stored.seq,
      body: bodies.serialize(stored),
      createdAt: time.now(),
      retryFrom: time.now(),
      attempts: 0,
      nextAttemptAt: time.now(),
    });
    expect(first('cam2')?.body).toBe(first('all')?.body);
    expect(first('cam2')?.deliveryId).not.toBe(first('all')?.deliveryId);
    expect(outbox.enqueue(save(2), [critical])).toEqual([]);
  });

  it('is idempotent per subscription and event id', () => {
    const stored = save(1);
    outbox.enqueue(stored, [all]);
    expect(outbox.enqueue(stored, [all, cam2])).toEqual([]);
    expect(outbox.enqueue(stored, [all, subscription('late')])).toEqual(['late']);
    expect(outbox.pendingBySubscription()).toEqual(
      new Map([
        ['all', 1],
        ['late', 1],
      ]),
    );
  });

  it('hands out due deliveries, longest waiting first and in event order among equals', () => {
    const [a, b, c] = [save(1), save(2), save(3)];
    // queued out of order (a backfill, say): the seq still decides
    outbox.enqueue(c, [all]);
    outbox.enqueue(a, [all, subscription('other')]);
    outbox.enqueue(b, [all]);
    const ids = (list: { eventId: string }[]) => list.map((d) => d.eventId);

    expect(ids(outbox.due('all', time.now(), 10))).toEqual([a, b, c].map((s) => s.event.id));
    expect(ids(outbox.due('all', time.now(), 2))).toEqual([a, b].map((s) => s.event.id));

    // a waits out a backoff: b and c are due before it, and it is due once its time comes
    const rowA = first('all')!;
    outbox.markFailedAttempt(rowA.id, { nextAttemptAt: time.now() + 500, error: 'HTTP 503' });
    expect(ids(outbox.due('all', time.now(), 10))).toEqual([b, c].map((s) => s.event.id));
    expect(outbox.nextDueAfter('all', time.now())).toBe(time.now() + 500);
    expect(outbox.nextDueAfter('other', time.now())).toBeUndefined();
    time.advance(500);
    expect(ids(outbox.due('all', time.now(), 10))).toEqual([b, c, a].map((s) => s.event.id));
    expect(outbox.nextDueAfter('all', time.now())).toBeUndefined();

    expect(ids(outbox.due('other', time.now(), 10))).toEqual([a.event.id]);
    expect(outbox.complete(rowA.id)).toBe(true);
    expect(outbox.complete(rowA.id)).toBe(false);
  });

  it('counts an attempt before it starts, once per claim', () => {
    outbox.enqueue(save(1), [all]);
    const row = first('all')!;
    time.advance(42);

    expect(outbox.claim(row)).toBe(1);
    expect(outbox.get(row.id)).toMatchObject({ attempts: 1, lastAttemptAt: time.now() });
    // a second claim from the same read finds the row moved on
    expect(outbox.claim(row)).toBeUndefined();
    expect(outbox.claim(outbox.get(row.id)!)).toBe(2);
    expect(outbox.claim({ id: 999, attempts: 0 })).toBeUndefined();
  });

  it('commits with the event or not at all when it runs in the same transaction', () => {
    const event = makeIncident(1);
    expect(() =>
      db.transaction(() => {
        events.save(event);
        outbox.enqueue(events.get(event.id)!, [all]);
        throw new Error('fusion crashed before the commit');
      }),
    ).toThrow(/fusion crashed/);
    expect(events.count()).toBe(0);
    expect(outbox.pendingCount()).toBe(0);

    db.transaction(() => {
      events.save(event);
      outbox.enqueue(events.get(event.id)!, [all]);
    });
    expect(events.count()).toBe(1);
    expect(outbox.pendingCount()).toBe(1);
  });

  it('records failed attempts on the row', () => {
    outbox.enqueue(save(1), [all]);
    const row = first('all')!;
    outbox.claim(row);

    expect(
      outbox.markFailedAttempt(row.id, {
        nextAttemptAt: time.now() + 500,
        error: 'HTTP 503',
        status: 503,
      }),
    ).toBe(true);
    expect(outbox.get(row.id)).toEqual({
      ...row,
      attempts: 1,
      lastAttemptAt: time.now(),
      nextAttemptAt: time.now() + 500,
      lastError: 'HTTP 503',
      lastStatus: 503,
    });
    outbox.markFailedAttempt(row.id, { nextAttemptAt: 0, error: 'timed out' });
    expect(outbox.get(row.id)).not.toHaveProperty('lastStatus');
  });

  describe('dead deliveries', () => {
    it('moves a delivery to the dead table with why, keeping its ids and body', () => {
      const stored = save(1);
      outbox.enqueue(stored, [all]);
      const row = first('all')!;
      time.advance(60_000);

      const dead = outbox.kill(row.id, {
        url: 'https://hooks.example.com/all',
        attempts: 3,
        reason: 'HTTP 503, gave up after 3 attempts',
        status: 503,
      });

      expect(dead).toEqual({
        id: row.id,
        deliveryId: row.deliveryId,
        subscriptionId: 'all',
        url: 'https://hooks.example.com/all',
        eventId: stored.event.id,
        eventSeq: stored.seq,
        body: row.body,
        createdAt: row.createdAt,
        attempts: 3,
        reason: 'HTTP 503, gave up after 3 attempts',
        lastStatus: 503,
        failedAt: time.now(),
      });
      expect(outbox.pendingCount()).toBe(0);
      expect(outbox.listDead()).toEqual([dead]);
      expect(outbox.findDead(row.deliveryId)).toEqual(dead);
      expect(outbox.findDead(webhookDeliveryId('all', 'other'))).toBeUndefined();
      expect(outbox.kill(row.id, { url: '', attempts: 1, reason: 'again' })).toBeUndefined();
    });

    it('does not queue a dead delivery again when its event is replayed', () => {
      const stored = save(1);
      outbox.enqueue(stored, [all]);
      outbox.kill(first('all')!.id, { url: 'u', attempts: 1, reason: 'HTTP 410' });
      expect(outbox.enqueue(stored, [all])).toEqual([]);
      expect(outbox.pendingCount()).toBe(0);
    });

    it('tracks which dead letters the bus has accepted', () => {
      for (const n of [1, 2, 3]) {
        outbox.enqueue(save(n), [all]);
        outbox.kill(first('all')!.id, { url: 'u', attempts: 1, reason: `r${n}` });
      }
      expect(outbox.unpublished().map((d) => d.reason)).toEqual(['r1', 'r2', 'r3']);

      time.advance(5);
      expect(outbox.markPublished(outbox.unpublished(1)[0].id)).toBe(true);

      expect(outbox.unpublished().map((d) => d.reason)).toEqual(['r2', 'r3']);
      expect(outbox.unpublished(1).map((d) => d.reason)).toEqual(['r2']);
      expect(outbox.listDead()[0].publishedAt).toBe(time.now());
    });

    it('prunes old dead deliveries, but never one whose dead letter is still to be published', () => {
      for (const n of [1, 2, 3]) {
        outbox.enqueue(save(n), [all]);
        outbox.kill(first('all')!.id, { url: 'u', attempts: 1, reason: `r${n}` });
        time.advance(10);
      }
      const [oldest, second] = outbox.listDead();
      outbox.markPublished(oldest!.id);
      expect(outbox.pruneDead(time.now())).toBe(1);
      expect(outbox.listDead().map((d) => d.reason)).toEqual(['r2', 'r3']);
      outbox.markPublished(second!.id);
      expect(outbox.pruneDead(oldest!.failedAt + 5)).toBe(0); // r2 failed later than that
      expect(outbox.pruneDead(time.now())).toBe(1);
    });

    it('lists and counts dead deliveries by subscription, page by page', () => {
      for (const n of [1, 2, 3]) {
        const stored = save(n);
        outbox.enqueue(stored, [all, subscription('b')]);
        outbox.kill(first('all')!.id, { url: 'u', attempts: 1, reason: 'x' });
        if (n < 3) outbox.kill(first('b')!.id, { url: 'u', attempts: 1, reason: 'x' });
      }
      const page = outbox.listDead({ subscriptionId: 'all', limit: 2 });
      const rest = outbox.listDead({ subscriptionId: 'all', afterId: page[1].id });
      expect([...page, ...rest].map((d) => [d.subscriptionId, d.eventSeq])).toEqual([
        ['all', 1],
        ['all', 2],
        ['all', 3],
      ]);
      expect(outbox.listDead()).toHaveLength(5);
      expect(outbox.deadBySubscription()).toEqual(
        new Map([
          ['all', 3],
          ['b', 2],
        ]),
      );
      expect(outbox.pendingBySubscription()).toEqual(new Map([['b', 1]]));
      expect(() => outbox.listDead({ limit: 0 })).toThrow(RangeError);
    });

    it('replays dead deliveries due now, with fresh attempts and a fresh budget, ids kept', () => {
      const [a, b] = [save(1), save(2)];
      outbox.enqueue(a, [all]);
      outbox.enqueue(b, [all]);
      const row = first('all')!;
      outbox.claim(row);
      const dead = outbox.kill(row.id, { url: 'u', attempts: 3, reason: 'x' })!;
      expect(first('all')?.eventId).toBe(b.event.id);

      time.advance(1_000);
      expect(outbox.replayDead([dead.id])).toBe(1);

      expect(outbox.get(dead.id)).toMatchObject({
        id: dead.id,
        deliveryId: dead.deliveryId,
        eventId: a.event.id,
        createdAt: row.createdAt,
        retryFrom: time.now(),
        attempts: 0,
        nextAttemptAt: time.now(),
      });
      expect(outbox.listDead()).toEqual([]);
      expect(outbox.replayDead([dead.id])).toBe(0);
    });

    it('replays every dead delivery of the subscriptions named, and no other', () => {
      for (const n of [1, 2]) {
        outbox.enqueue(save(n), [all, subscription('b'), subscription('gone')]);
        for (const id of ['all', 'b', 'gone']) {
          outbox.kill(first(id)!.id, { url: 'u', attempts: 1, reason: 'x' });
        }
      }

      expect(outbox.replayAllDead(['all', 'b'])).toBe(4);

      expect(outbox.pendingBySubscription()).toEqual(
        new Map([
          ['all', 2],
          ['b', 2],
        ]),
      );
      expect(outbox.deadBySubscription()).toEqual(new Map([['gone', 2]]));
      expect(outbox.replayAllDead([])).toBe(0);
    });
  });
});
