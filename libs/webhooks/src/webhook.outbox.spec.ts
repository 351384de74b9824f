import type { SecurityEvent } from '@app/contracts';
import {
  EventRepository,
  HistoryDatabase,
  SqliteSqlDatabase,
  type StoredEvent,
} from '@app/history';
import { makeIncident } from '@app/testing/incident.factory';
import { sqlBackends, type OpenBackend } from '@app/testing/sql-backends';
import { ManualTime } from '../test/manual.time';
import { makeSubscription } from '../test/subscription.factory';
import { webhookDeliveryId } from './delivery-id';
import { OUTBOX_MIGRATIONS } from './outbox.migrations';
import { WebhookBodyBuilder } from './webhook-body.builder';
import { WebhookOutbox } from './webhook.outbox';
import type { WebhookSubscription } from './webhook-subscription';

const subscription = (id: string, filter: WebhookSubscription['filter'] = {}) =>
  makeSubscription(id, { filter });

describe.each(sqlBackends())('WebhookOutbox on $name', (backend) => {
  let db: OpenBackend;
  let time: ManualTime;
  let events: EventRepository;
  let outbox: WebhookOutbox;
  const bodies = new WebhookBodyBuilder();
  const all = subscription('all');
  const critical = subscription('critical', { minSeverity: 'critical' });
  const cam2 = subscription('cam2', { streamIds: ['cam-2'] });

  beforeEach(async () => {
    time = new ManualTime();
    db = await backend.open({ clock: time });
    events = await EventRepository.open(db.db, time);
    outbox = await WebhookOutbox.open(db.db, { bodies, clock: time });
  });

  afterEach(() => db.dispose());

  async function save(n: number, overrides: Partial<SecurityEvent> = {}): Promise<StoredEvent> {
    const event = makeIncident(n, overrides);
    await events.save(event, { streamLabels: { camera: 'Lobby' } });
    return (await events.get(event.id))!;
  }

  const first = async (subscriptionId: string) =>
    (await outbox.due(subscriptionId, time.now(), 1))[0];
  const migrations = async () =>
    (await db.db.all<{ name: string }>('SELECT name FROM migrations')).map((m) => m.name).sort();

  it('brings its tables in through named outbox/ migrations, once', async () => {
    expect(await migrations()).toEqual([
      'events/001-create',
      'events/002-incident-versions',
      'events/003-sites',
      'events/004-site-filters',
      'outbox/001-create',
      'outbox/002-retry-budget-delivery-ids',
    ]);
    await WebhookOutbox.open(db.db, { clock: time });
    expect(await migrations()).toHaveLength(6);
  });

  // The backfill of delivery ids exists on SQLite only: PostgreSQL came after it.
  (backend.name === 'sqlite' ? it : it.skip)(
    'upgrades an outbox from before the retry budget, keeping every row',
    async () => {
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

        const upgraded = await WebhookOutbox.open(new SqliteSqlDatabase(old), { clock: time });

        expect(await upgraded.due('soc', 9000, 10)).toEqual([
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
        expect(await upgraded.findDead(webhookDeliveryId('soc', 'e0'))).toMatchObject({
          id: 7,
          eventId: 'e0',
          attempts: 8,
        });
      } finally {
        old.close();
      }
    },
  );

  it('queues a delivery for each subscription whose filter matches, with the body once', async () => {
    const stored = await save(1, { streamId: 'cam-2', severity: 'high' });

    expect(await outbox.enqueue(stored, [all, critical, cam2])).toEqual(['all', 'cam2']);

    expect(await outbox.pendingCount()).toBe(2);
    expect(await outbox.pendingCount('critical')).toBe(0);
    expect(await first('all')).toEqual({
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
    expect((await first('cam2'))?.body).toBe((await first('all'))?.body);
    expect((await first('cam2'))?.deliveryId).not.toBe((await first('all'))?.deliveryId);
    expect(await outbox.enqueue(await save(2), [critical])).toEqual([]);
  });

  it('is idempotent per subscription and event id', async () => {
    const stored = await save(1);
    await outbox.enqueue(stored, [all]);
    expect(await outbox.enqueue(stored, [all, cam2])).toEqual([]);
    expect(await outbox.enqueue(stored, [all, subscription('late')])).toEqual(['late']);
    expect(await outbox.pendingBySubscription()).toEqual(
      new Map([
        ['all', 1],
        ['late', 1],
      ]),
    );
  });

  it('hands out due deliveries, longest waiting first and in event order among equals', async () => {
    const [a, b, c] = [await save(1), await save(2), await save(3)];
    // queued out of order (a backfill, say): the seq still decides
    await outbox.enqueue(c, [all]);
    await outbox.enqueue(a, [all, subscription('other')]);
    await outbox.enqueue(b, [all]);
    const ids = (list: { eventId: string }[]) => list.map((d) => d.eventId);

    expect(ids(await outbox.due('all', time.now(), 10))).toEqual([a, b, c].map((s) => s.event.id));
    expect(ids(await outbox.due('all', time.now(), 2))).toEqual([a, b].map((s) => s.event.id));

    // a waits out a backoff: b and c are due before it, and it is due once its time comes
    const rowA = await first('all')!;
    await outbox.markFailedAttempt(rowA.id, { nextAttemptAt: time.now() + 500, error: 'HTTP 503' });
    expect(ids(await outbox.due('all', time.now(), 10))).toEqual([b, c].map((s) => s.event.id));
    expect(await outbox.nextDueAfter('all', time.now())).toBe(time.now() + 500);
    expect(await outbox.nextDueAfter('other', time.now())).toBeUndefined();
    time.advance(500);
    expect(ids(await outbox.due('all', time.now(), 10))).toEqual([b, c, a].map((s) => s.event.id));
    expect(await outbox.nextDueAfter('all', time.now())).toBeUndefined();

    expect(ids(await outbox.due('other', time.now(), 10))).toEqual([a.event.id]);
    expect(await outbox.complete(rowA.id)).toBe(true);
    expect(await outbox.complete(rowA.id)).toBe(false);
  });

  it('counts an attempt before it starts, once per claim', async () => {
    await outbox.enqueue(await save(1), [all]);
    const row = await first('all')!;
    time.advance(42);

    expect(await outbox.claim(row)).toBe(1);
    expect(await outbox.get(row.id)).toMatchObject({ attempts: 1, lastAttemptAt: time.now() });
    // a second claim from the same read finds the row moved on
    expect(await outbox.claim(row)).toBeUndefined();
    expect(await outbox.claim((await outbox.get(row.id))!)).toBe(2);
    expect(await outbox.claim({ id: 999, attempts: 0 })).toBeUndefined();
  });

  it('commits with the event or not at all when it runs in the same transaction', async () => {
    const event = makeIncident(1);
    await expect(
      db.db.transaction(async (tx) => {
        await events.save(event, {}, tx);
        await outbox.enqueue((await events.get(event.id, tx))!, [all], tx);
        throw new Error('fusion crashed before the commit');
      }),
    ).rejects.toThrow(/fusion crashed/);
    expect(await events.count()).toBe(0);
    expect(await outbox.pendingCount()).toBe(0);

    await db.db.transaction(async (tx) => {
      await events.save(event, {}, tx);
      await outbox.enqueue((await events.get(event.id, tx))!, [all], tx);
    });
    expect(await events.count()).toBe(1);
    expect(await outbox.pendingCount()).toBe(1);
  });

  it('records failed attempts on the row', async () => {
    await outbox.enqueue(await save(1), [all]);
    const row = await first('all')!;
    await outbox.claim(row);

    expect(
      await outbox.markFailedAttempt(row.id, {
        nextAttemptAt: time.now() + 500,
        error: 'HTTP 503',
        status: 503,
      }),
    ).toBe(true);
    expect(await outbox.get(row.id)).toEqual({
      ...row,
      attempts: 1,
      lastAttemptAt: time.now(),
      nextAttemptAt: time.now() + 500,
      lastError: 'HTTP 503',
      lastStatus: 503,
    });
    await outbox.markFailedAttempt(row.id, { nextAttemptAt: 0, error: 'timed out' });
    expect(await outbox.get(row.id)).not.toHaveProperty('lastStatus');
  });

  describe('dead deliveries', () => {
    it('moves a delivery to the dead table with why, keeping its ids and body', async () => {
      const stored = await save(1);
      await outbox.enqueue(stored, [all]);
      const row = await first('all')!;
      time.advance(60_000);

      const dead = await outbox.kill(row.id, {
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
      expect(await outbox.pendingCount()).toBe(0);
      expect(await outbox.listDead()).toEqual([dead]);
      expect(await outbox.findDead(row.deliveryId)).toEqual(dead);
      expect(await outbox.findDead(webhookDeliveryId('all', 'other'))).toBeUndefined();
      expect(await outbox.kill(row.id, { url: '', attempts: 1, reason: 'again' })).toBeUndefined();
    });

    it('does not queue a dead delivery again when its event is replayed', async () => {
      const stored = await save(1);
      await outbox.enqueue(stored, [all]);
      await outbox.kill((await first('all'))!.id, { url: 'u', attempts: 1, reason: 'HTTP 410' });
      expect(await outbox.enqueue(stored, [all])).toEqual([]);
      expect(await outbox.pendingCount()).toBe(0);
    });

    it('tracks which dead letters the bus has accepted', async () => {
      for (const n of [1, 2, 3]) {
        await outbox.enqueue(await save(n), [all]);
        await outbox.kill((await first('all'))!.id, { url: 'u', attempts: 1, reason: `r${n}` });
      }
      expect((await outbox.unpublished()).map((d) => d.reason)).toEqual(['r1', 'r2', 'r3']);

      time.advance(5);
      expect(await outbox.markPublished((await outbox.unpublished(1))[0].id)).toBe(true);

      expect((await outbox.unpublished()).map((d) => d.reason)).toEqual(['r2', 'r3']);
      expect((await outbox.unpublished(1)).map((d) => d.reason)).toEqual(['r2']);
      expect((await outbox.listDead())[0].publishedAt).toBe(time.now());
    });

    it('prunes old dead deliveries, but never one whose dead letter is still to be published', async () => {
      for (const n of [1, 2, 3]) {
        await outbox.enqueue(await save(n), [all]);
        await outbox.kill((await first('all'))!.id, { url: 'u', attempts: 1, reason: `r${n}` });
        time.advance(10);
      }
      const [oldest, second] = await outbox.listDead();
      await outbox.markPublished(oldest!.id);
      expect(await outbox.pruneDead(time.now())).toBe(1);
      expect((await outbox.listDead()).map((d) => d.reason)).toEqual(['r2', 'r3']);
      await outbox.markPublished(second!.id);
      expect(await outbox.pruneDead(oldest!.failedAt + 5)).toBe(0); // r2 failed later than that
      expect(await outbox.pruneDead(time.now())).toBe(1);
    });

    it('lists and counts dead deliveries by subscription, page by page', async () => {
      for (const n of [1, 2, 3]) {
        const stored = await save(n);
        await outbox.enqueue(stored, [all, subscription('b')]);
        await outbox.kill((await first('all'))!.id, { url: 'u', attempts: 1, reason: 'x' });
        if (n < 3)
          await outbox.kill((await first('b'))!.id, { url: 'u', attempts: 1, reason: 'x' });
      }
      const page = await outbox.listDead({ subscriptionId: 'all', limit: 2 });
      const rest = await outbox.listDead({ subscriptionId: 'all', afterId: page[1].id });
      expect([...page, ...rest].map((d) => [d.subscriptionId, d.eventSeq])).toEqual([
        ['all', 1],
        ['all', 2],
        ['all', 3],
      ]);
      expect(await outbox.listDead()).toHaveLength(5);
      expect(await outbox.deadBySubscription()).toEqual(
        new Map([
          ['all', 3],
          ['b', 2],
        ]),
      );
      expect(await outbox.pendingBySubscription()).toEqual(new Map([['b', 1]]));
      await expect(outbox.listDead({ limit: 0 })).rejects.toThrow(RangeError);
    });

    it('replays dead deliveries due now, with fresh attempts and a fresh budget, ids kept', async () => {
      const [a, b] = [await save(1), await save(2)];
      await outbox.enqueue(a, [all]);
      await outbox.enqueue(b, [all]);
      const row = await first('all')!;
      await outbox.claim(row);
      const dead = (await outbox.kill(row.id, { url: 'u', attempts: 3, reason: 'x' }))!;
      expect((await first('all'))?.eventId).toBe(b.event.id);

      time.advance(1_000);
      expect(await outbox.replayDead([dead.id])).toBe(1);

      expect(await outbox.get(dead.id)).toMatchObject({
        id: dead.id,
        deliveryId: dead.deliveryId,
        eventId: a.event.id,
        createdAt: row.createdAt,
        retryFrom: time.now(),
        attempts: 0,
        nextAttemptAt: time.now(),
      });
      expect(await outbox.listDead()).toEqual([]);
      expect(await outbox.replayDead([dead.id])).toBe(0);
    });

    it('replays every dead delivery of the subscriptions named, and no other', async () => {
      for (const n of [1, 2]) {
        await outbox.enqueue(await save(n), [all, subscription('b'), subscription('gone')]);
        for (const id of ['all', 'b', 'gone']) {
          await outbox.kill((await first(id))!.id, { url: 'u', attempts: 1, reason: 'x' });
        }
      }

      expect(await outbox.replayAllDead(['all', 'b'])).toBe(4);

      expect(await outbox.pendingBySubscription()).toEqual(
        new Map([
          ['all', 2],
          ['b', 2],
        ]),
      );
      expect(await outbox.deadBySubscription()).toEqual(new Map([['gone', 2]]));
      expect(await outbox.replayAllDead([])).toBe(0);
    });
  });
});
