import type { SecurityEvent } from '@app/contracts';
import { EventRepository, HistoryDatabase, type StoredEvent } from '@app/history';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime } from '../test/manual.time';
import { WebhookBodyBuilder } from './webhook-body.builder';
import { WebhookOutbox } from './webhook.outbox';
import type { WebhookSubscription } from './webhook-subscription';

function subscription(id: string, filter: WebhookSubscription['filter'] = {}): WebhookSubscription {
  return {
    id,
    url: `https://hooks.example.com/${id}`,
    secret: 'a-secret-of-16-chars',
    filter,
    maxAttempts: 3,
    timeoutMs: 1_000,
    backoff: { initialMs: 100, maxMs: 1_000 },
  };
}

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

  it('brings its tables in through named outbox/ migrations, once', () => {
    expect(db.appliedMigrations().map((m) => m.name)).toEqual([
      'events/001-create',
      'events/002-incident-versions',
      'outbox/001-create',
    ]);
    new WebhookOutbox(db, { clock: time });
    expect(db.appliedMigrations()).toHaveLength(3);
  });

  it('queues a delivery for each subscription whose filter matches, with the body once', () => {
    const stored = save(1, { streamId: 'cam-2', severity: 'high' });

    expect(outbox.enqueue(stored, [all, critical, cam2])).toEqual(['all', 'cam2']);

    expect(outbox.pendingCount()).toBe(2);
    expect(outbox.pendingCount('critical')).toBe(0);
    expect(outbox.head('all')).toEqual({
      id: 1,
      subscriptionId: 'all',
      eventId: stored.event.id,
      eventSeq: stored.seq,
      body: bodies.serialize(stored),
      createdAt: time.now(),
      attempts: 0,
      nextAttemptAt: time.now(),
    });
    expect(outbox.head('cam2')?.body).toBe(outbox.head('all')?.body);
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

  it('hands out the head in event order, one subscription at a time', () => {
    const [a, b, c] = [save(1), save(2), save(3)];
    // queued out of order (a backfill, say): the seq still decides
    outbox.enqueue(c, [all]);
    outbox.enqueue(a, [all, subscription('other')]);
    outbox.enqueue(b, [all]);

    const order: string[] = [];
    for (let head = outbox.head('all'); head; head = outbox.head('all')) {
      order.push(head.eventId);
      expect(outbox.complete(head.id)).toBe(true);
    }
    expect(order).toEqual([a, b, c].map((s) => s.event.id));
    expect(outbox.head('other')?.eventId).toBe(a.event.id);
    expect(outbox.complete(12345)).toBe(false);
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
    const head = outbox.head('all')!;

    expect(
      outbox.markFailedAttempt(head.id, {
        attempts: 1,
        nextAttemptAt: time.now() + 500,
        error: 'HTTP 503',
        status: 503,
      }),
    ).toBe(true);
    expect(outbox.get(head.id)).toEqual({
      ...head,
      attempts: 1,
      nextAttemptAt: time.now() + 500,
      lastError: 'HTTP 503',
      lastStatus: 503,
    });
    outbox.markFailedAttempt(head.id, { attempts: 2, nextAttemptAt: 0, error: 'timed out' });
    expect(outbox.get(head.id)).not.toHaveProperty('lastStatus');
  });

  describe('dead deliveries', () => {
    it('moves a delivery to the dead table with why, keeping its id and body', () => {
      const stored = save(1);
      outbox.enqueue(stored, [all]);
      const head = outbox.head('all')!;
      time.advance(60_000);

      const dead = outbox.kill(head.id, {
        url: 'https://hooks.example.com/all',
        attempts: 3,
        reason: 'HTTP 503, gave up after 3 attempts',
        status: 503,
      });

      expect(dead).toEqual({
        id: head.id,
        subscriptionId: 'all',
        url: 'https://hooks.example.com/all',
        eventId: stored.event.id,
        eventSeq: stored.seq,
        body: head.body,
        createdAt: head.createdAt,
        attempts: 3,
        reason: 'HTTP 503, gave up after 3 attempts',
        lastStatus: 503,
        failedAt: time.now(),
      });
      expect(outbox.pendingCount()).toBe(0);
      expect(outbox.listDead()).toEqual([dead]);
      expect(outbox.kill(head.id, { url: '', attempts: 1, reason: 'again' })).toBeUndefined();
    });

    it('does not queue a dead delivery again when its event is replayed', () => {
      const stored = save(1);
      outbox.enqueue(stored, [all]);
      outbox.kill(outbox.head('all')!.id, { url: 'u', attempts: 1, reason: 'HTTP 410' });
      expect(outbox.enqueue(stored, [all])).toEqual([]);
      expect(outbox.pendingCount()).toBe(0);
    });

    it('tracks which dead letters the bus has accepted', () => {
      for (const n of [1, 2, 3]) {
        outbox.enqueue(save(n), [all]);
        outbox.kill(outbox.head('all')!.id, { url: 'u', attempts: 1, reason: `r${n}` });
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
        outbox.kill(outbox.head('all')!.id, { url: 'u', attempts: 1, reason: `r${n}` });
        time.advance(10);
      }
      const [first, second] = outbox.listDead();
      outbox.markPublished(first!.id);
      expect(outbox.pruneDead(time.now())).toBe(1);
      expect(outbox.listDead().map((d) => d.reason)).toEqual(['r2', 'r3']);
      outbox.markPublished(second!.id);
      expect(outbox.pruneDead(first!.failedAt + 5)).toBe(0); // r2 failed later than that
      expect(outbox.pruneDead(time.now())).toBe(1);
    });

    it('lists dead deliveries by subscription, page by page', () => {
      for (const n of [1, 2, 3]) {
        const stored = save(n);
        outbox.enqueue(stored, [all, subscription('b')]);
        outbox.kill(outbox.head('all')!.id, { url: 'u', attempts: 1, reason: 'x' });
        outbox.kill(outbox.head('b')!.id, { url: 'u', attempts: 1, reason: 'x' });
      }
      const first = outbox.listDead({ subscriptionId: 'all', limit: 2 });
      const rest = outbox.listDead({ subscriptionId: 'all', afterId: first[1].id });
      expect([...first, ...rest].map((d) => [d.subscriptionId, d.eventSeq])).toEqual([
        ['all', 1],
        ['all', 2],
        ['all', 3],
      ]);
      expect(outbox.listDead()).toHaveLength(6);
      expect(() => outbox.listDead({ limit: 0 })).toThrow(RangeError);
    });

    it('requeues a dead delivery in its place with fresh attempts', () => {
      const [a, b] = [save(1), save(2)];
      outbox.enqueue(a, [all]);
      outbox.enqueue(b, [all]);
      const dead = outbox.kill(outbox.head('all')!.id, { url: 'u', attempts: 3, reason: 'x' })!;
      expect(outbox.head('all')?.eventId).toBe(b.event.id);

      time.advance(1_000);
      expect(outbox.requeue(dead.id)).toBe(true);

      expect(outbox.head('all')).toMatchObject({
        id: dead.id,
        eventId: a.event.id,
        attempts: 0,
        nextAttemptAt: time.now(),
      });
      expect(outbox.listDead()).toEqual([]);
      expect(outbox.requeue(dead.id)).toBe(false);
    });
  });
});
