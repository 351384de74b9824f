import { SystemClock, type Clock, type HistoryDatabase, type StoredEvent } from '@app/history';
import type { Statement } from 'better-sqlite3';
import { webhookDeliveryId } from './delivery-id';
import { OUTBOX_MIGRATIONS } from './outbox.migrations';
import { WebhookBodyBuilder } from './webhook-body.builder';
import { webhookMatches, type WebhookSubscription } from './webhook-subscription';

/** A delivery still to make, due now or later. */
export interface PendingDelivery {
  id: number;
  /** X-Vigil-Delivery-Id: the same for every attempt. */
  deliveryId: string;
  subscriptionId: string;
  eventId: string;
  eventSeq: number;
  body: string;
  /** When it was first queued. */
  createdAt: number;
  /** Where its retry budget starts: when it was queued, or last replayed. */
  retryFrom: number;
  /** Attempts made so far, counted when each one started; the next one is attempts + 1. */
  attempts: number;
  /** Wall-clock ms before which it is not tried again. */
  nextAttemptAt: number;
  lastAttemptAt?: number;
  lastError?: string;
  lastStatus?: number;
}

export interface DeadDelivery {
  /** The id it had in the outbox. */
  id: number;
  deliveryId: string;
  subscriptionId: string;
  /** Redacted. */
  url: string;
  eventId: string;
  eventSeq: number;
  body: string;
  createdAt: number;
  attempts: number;
  reason: string;
  lastStatus?: number;
  failedAt: number;
  /** When the bus accepted its dead letter; absent while not yet published. */
  publishedAt?: number;
}

export interface FailedAttempt {
  nextAttemptAt: number;
  error: string;
  status?: number;
}

export interface GiveUp {
  /** Redacted URL of the subscriber at the time. */
  url: string;
  attempts: number;
  reason: string;
  status?: number;
}

export interface DeadQuery {
  subscriptionId?: string;
  /** Rows with an id above this one (the last id of the previous page). */
  afterId?: number;
  /** Default 100. */
  limit?: number;
}

export interface WebhookOutboxOptions {
  bodies?: WebhookBodyBuilder;
  clock?: Clock;
}

interface PendingRow {
  id: number;
  delivery_id: string;
  subscription_id: string;
  event_id: string;
  event_seq: number;
  body: string;
  created_at: number;
  retry_from: number;
  attempts: number;
  next_attempt_at: number;
  last_attempt_at: number | null;
  last_error: string | null;
  last_status: number | null;
}

interface DeadRow {
  id: number;
  delivery_id: string;
  subscription_id: string;
  url: string;
  event_id: string;
  event_seq: number;
  body: string;
  created_at: number;
  attempts: number;
  reason: string;
  last_status: number | null;
  failed_at: number;
  published_at: number | null;
}

const PENDING = `id, delivery_id, subscription_id, event_id, event_seq, body, created_at,
  retry_from, attempts, next_attempt_at, last_attempt_at, last_error, last_status`;
const DEAD = `id, delivery_id, subscription_id, url, event_id, event_seq, body, created_at,
  attempts, reason, last_status, failed_at, published_at`;
/** Back into the queue with a fresh budget, keeping its id, delivery id and place in order. */
const REPLAY = `INSERT INTO webhook_outbox (id, delivery_id, subscription_id, event_id, event_seq,
    body, created_at, retry_from, attempts, next_attempt_at)
  SELECT id, delivery_id, subscription_id, event_id, event_seq, body, created_at, ?, 0, ?
  FROM webhook_dead`;

/**
 * The durable queue of webhook deliveries, in the history's SQLite file. Everything here is
 * synchronous (better-sqlite3), so `enqueue` can join the transaction that stores the event:
 * an event is stored if and only if its deliveries are queued. A row leaves the queue only
 * after a 2xx (`complete`) or when given up on (`kill`, into `webhook_dead`); a crash in
 * between leaves it pending, and the next dispatcher resumes it.
 */
export class WebhookOutbox {
  private readonly bodies: WebhookBodyBuilder;
  private readonly clock: Clock;
  private readonly insert: Statement<
    [number, string, string, string, number, number, number, string, string, string]
  >;
  private readonly selectDue: Statement<[string, number, number], PendingRow>;
  private readonly selectNextAfter: Statement<[string, number], { at: number | null }>;
  private readonly selectPending: Statement<[number], PendingRow>;
  private readonly updateClaim: Statement<[number, number, number]>;
  private readonly updateFailed: Statement<[number, string, number | null, number]>;
  private readonly deletePending: Statement<[number]>;
  private readonly insertDead: Statement<[string, number, string, number | null, number, number]>;
  private readonly selectDead: Statement<[number], DeadRow>;
  private readonly selectDeadByDelivery: Statement<[string], DeadRow>;
  private readonly updatePublished: Statement<[number, number]>;
  private readonly selectUnpublished: Statement<[number], DeadRow>;
  private readonly replayOne: Statement<[number, number, number]>;
  private readonly deleteDead: Statement<[number]>;
  private readonly replaySome: Statement<[number, number, string]>;
  private readonly deleteDeadOf: Statement<[string]>;
  private readonly deleteOldDead: Statement<[number, number]>;
  private readonly countAll: Statement<[], { n: number }>;
  private readonly countOne: Statement<[string], { n: number }>;
  private readonly countBySubscription: Statement<[], { id: string; n: number }>;
  private readonly countDeadBySubscription: Statement<[], { id: string; n: number }>;

  constructor(
    private readonly database: HistoryDatabase,
    options: WebhookOutboxOptions = {},
  ) {
    this.bodies = options.bodies ?? new WebhookBodyBuilder();
    this.clock = options.clock ?? new SystemClock();
    database.migrate(OUTBOX_MIGRATIONS);
    const db = database.connection;
    // A delivery given up on is not queued again by a replay of its event; replaying the dead
    // letter is the deliberate way back.
    this.insert = db.prepare(
      `INSERT INTO webhook_outbox (event_seq, delivery_id, subscription_id, event_id, created_at,
         retry_from, next_attempt_at, body)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?
       WHERE NOT EXISTS (SELECT 1 FROM webhook_dead WHERE subscription_id = ? AND event_id = ?)
       ON CONFLICT (subscription_id, event_id) DO NOTHING`,
    );
    this.selectDue = db.prepare(
      `SELECT ${PENDING} FROM webhook_outbox
       WHERE subscription_id = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, event_seq, id LIMIT ?`,
    );
    this.selectNextAfter = db.prepare(
      `SELECT min(next_attempt_at) AS at FROM webhook_outbox
       WHERE subscription_id = ? AND next_attempt_at > ?`,
    );
    this.selectPending = db.prepare(`SELECT ${PENDING} FROM webhook_outbox WHERE id = ?`);
    this.updateClaim = db.prepare(
      `UPDATE webhook_outbox SET attempts = attempts + 1, last_attempt_at = ?
       WHERE id = ? AND attempts = ?`,
    );
    this.updateFailed = db.prepare(
      `UPDATE webhook_outbox SET next_attempt_at = ?, last_error = ?, last_status = ?
       WHERE id = ?`,
    );
    this.deletePending = db.prepare('DELETE FROM webhook_outbox WHERE id = ?');
    this.insertDead = db.prepare(
      `INSERT INTO webhook_dead (id, delivery_id, subscription_id, url, event_id, event_seq, body,
         created_at, attempts, reason, last_status, failed_at)
       SELECT id, delivery_id, subscription_id, ?, event_id, event_seq, body, created_at, ?, ?, ?, ?
       FROM webhook_outbox WHERE id = ?`,
    );
    this.selectDead = db.prepare(`SELECT ${DEAD} FROM webhook_dead WHERE id = ?`);
    this.selectDeadByDelivery = db.prepare(
      `SELECT ${DEAD} FROM webhook_dead WHERE delivery_id = ?`,
    );
    this.updatePublished = db.prepare('UPDATE webhook_dead SET published_at = ? WHERE id = ?');
    this.selectUnpublished = db.prepare(
      `SELECT ${DEAD} FROM webhook_dead WHERE published_at IS NULL ORDER BY id LIMIT ?`,
    );
    this.replayOne = db.prepare(`${REPLAY} WHERE id = ?`);
    this.deleteDead = db.prepare('DELETE FROM webhook_dead WHERE id = ?');
    // The subscription ids as one JSON array parameter: any number of them, one statement.
    this.replaySome = db.prepare(
      `${REPLAY} WHERE subscription_id IN (SELECT value FROM json_each(?)) ORDER BY id`,
    );
    this.deleteDeadOf = db.prepare(
      'DELETE FROM webhook_dead WHERE subscription_id IN (SELECT value FROM json_each(?))',
    );
    this.deleteOldDead = db.prepare(
      `DELETE FROM webhook_dead WHERE id IN (
         SELECT id FROM webhook_dead
         WHERE failed_at < ? AND published_at IS NOT NULL ORDER BY id LIMIT ?)`,
    );
    this.countAll = db.prepare('SELECT count(*) AS n FROM webhook_outbox');
    this.countOne = db.prepare(
      'SELECT count(*) AS n FROM webhook_outbox WHERE subscription_id = ?',
    );
    this.countBySubscription = db.prepare(
      `SELECT subscription_id AS id, count(*) AS n FROM webhook_outbox
       GROUP BY subscription_id ORDER BY subscription_id`,
    );
    this.countDeadBySubscription = db.prepare(
      `SELECT subscription_id AS id, count(*) AS n FROM webhook_dead
       GROUP BY subscription_id ORDER BY subscription_id`,
    );
  }

  /**
   * Queues one delivery of a stored event to each subscription whose filter it matches, with
   * the body serialised once. Idempotent per (subscription, event id). Call it in the
   * transaction that saved the event, and only when the save inserted it: an event replayed
   * after its deliveries completed would otherwise be delivered again. Returns the ids of the
   * subscriptions it was queued for now.
   */
  enqueue(stored: StoredEvent, subscriptions: readonly WebhookSubscription[]): string[] {
    const matching = subscriptions.filter((s) => webhookMatches(s.filter, stored.event));
    if (matching.length === 0) return [];
    const body = this.bodies.serialize(stored);
    const now = this.clock.now();
    const eventId = stored.event.id;
    return this.database.transaction(() =>
      matching
        .filter(
          (s) =>
            this.insert.run(
              stored.seq,
              webhookDeliveryId(s.id, eventId),
              s.id,
              eventId,
              now,
              now,
              now,
              body,
              s.id,
              eventId,
            ).changes > 0,
        )
        .map((s) => s.id),
    );
  }

  /**
   * A subscription's deliveries whose time has come, longest waiting first and in event order
   * among equals. Only these are loaded: a backlog waits on disk, however long.
   */
  due(subscriptionId: string, now: number, limit: number): PendingDelivery[] {
    return this.selectDue.all(subscriptionId, now, limit).map(toPending);
  }

  /** When the next of a subscription's deliveries not yet due becomes due; undefined if none. */
  nextDueAfter(subscriptionId: string, now: number): number | undefined {
    return this.selectNextAfter.get(subscriptionId, now)?.at ?? undefined;
  }

  get(id: number): PendingDelivery | undefined {
    const row = this.selectPending.get(id);
    return row && toPending(row);
  }

  /**
   * Counts the attempt about to start, durably, before its request leaves: a crash in the
   * middle of it is then resent as the next attempt, never the same one twice. Returns the new
   * attempt number, or undefined when the row is gone or another claim got there first.
   */
  claim(delivery: Pick<PendingDelivery, 'id' | 'attempts'>): number | undefined {
    const claimed = this.updateClaim.run(this.clock.now(), delivery.id, delivery.attempts);
    return claimed.changes > 0 ? delivery.attempts + 1 : undefined;
  }

  /** Records why the attempt failed and when to try again. */
  markFailedAttempt(id: number, failure: FailedAttempt): boolean {
    return (
      this.updateFailed.run(failure.nextAttemptAt, failure.error, failure.status ?? null, id)
        .changes > 0
    );
  }

  /** The receiver answered 2xx: the delivery is done. */
  complete(id: number): boolean {
    return this.deletePending.run(id).changes > 0;
  }

  /** Moves a delivery to the dead table, in one transaction; undefined if it is not pending. */
  kill(id: number, giveUp: GiveUp): DeadDelivery | undefined {
    return this.database.transaction(() => {
      const failedAt = this.clock.now();
      const moved = this.insertDead.run(
        giveUp.url,
        giveUp.attempts,
        giveUp.reason,
        giveUp.status ?? null,
        failedAt,
        id,
      );
      if (moved.changes === 0) return undefined;
      this.deletePending.run(id);
      return toDead(this.selectDead.get(id)!);
    });
  }

  markPublished(deadId: number): boolean {
    return this.updatePublished.run(this.clock.now(), deadId).changes > 0;
  }

  /** Dead deliveries whose dead letter the bus has not accepted yet, oldest first. */
  unpublished(limit = 100): DeadDelivery[] {
    return this.selectUnpublished.all(limit).map(toDead);
  }

  findDead(deliveryId: string): DeadDelivery | undefined {
    const row = this.selectDeadByDelivery.get(deliveryId);
    return row && toDead(row);
  }

  /**
   * Puts dead deliveries back in their subscriptions' queues, due now, with fresh attempts and
   * a fresh retry budget, all or none. Returns how many went back (fewer when some were
   * replayed by someone else meanwhile).
   */
  replayDead(deadIds: readonly number[]): number {
    const now = this.clock.now();
    return this.database.transaction(() => {
      let replayed = 0;
      for (const id of deadIds) {
        if (this.replayOne.run(now, now, id).changes === 0) continue;
        this.deleteDead.run(id);
        replayed += 1;
      }
      return replayed;
    });
  }

  /** Every dead delivery of these subscriptions back in the queue, as replayDead does. */
  replayAllDead(subscriptionIds: readonly string[]): number {
    const now = this.clock.now();
    const ids = JSON.stringify(subscriptionIds);
    return this.database.transaction(() => {
      const replayed = this.replaySome.run(now, now, ids).changes;
      this.deleteDeadOf.run(ids);
      return replayed;
    });
  }

  /**
   * Retention for the dead table, as for events: rows that failed before `before` (ms) and whose
   * dead letter the bus has taken. Bounded per call; returns how many were deleted.
   */
  pruneDead(before: number, limit = 1000): number {
    return this.deleteOldDead.run(before, limit).changes;
  }

  /** Dead deliveries, oldest first (by outbox id), a page at a time. */
  listDead(query: DeadQuery = {}): DeadDelivery[] {
    const limit = query.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be ≥ 1');
    const clauses = ['id > ?'];
    const params: (string | number)[] = [query.afterId ?? 0];
    if (query.subscriptionId !== undefined) {
      clauses.push('subscription_id = ?');
      params.push(query.subscriptionId);
    }
    return this.database.connection
      .prepare<(string | number)[], DeadRow>(
        `SELECT ${DEAD} FROM webhook_dead WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`,
      )
      .all(...params, limit)
      .map(toDead);
  }

  pendingCount(subscriptionId?: string): number {
    return subscriptionId === undefined
      ? this.countAll.get()!.n
      : this.countOne.get(subscriptionId)!.n;
  }

  /** Pending deliveries per subscription id, including ids no longer configured. */
  pendingBySubscription(): Map<string, number> {
    return new Map(this.countBySubscription.all().map((row) => [row.id, row.n]));
  }

  /** Dead deliveries per subscription id, including ids no longer configured. */
  deadBySubscription(): Map<string, number> {
    return new Map(this.countDeadBySubscription.all().map((row) => [row.id, row.n]));
  }
}

function toPending(row: PendingRow): PendingDelivery {
  const pending: PendingDelivery = {
    id: row.id,
    deliveryId: row.delivery_id,
    subscriptionId: row.subscription_id,
    eventId: row.event_id,
    eventSeq: row.event_seq,
    body: row.body,
    createdAt: row.created_at,
    retryFrom: row.retry_from,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
  };
  if (row.last_attempt_at !== null) pending.lastAttemptAt = row.last_attempt_at;
  if (row.last_error !== null) pending.lastError = row.last_error;
  if (row.last_status !== null) pending.lastStatus = row.last_status;
  return pending;
}

function toDead(row: DeadRow): DeadDelivery {
  const dead: DeadDelivery = {
    id: row.id,
    deliveryId: row.delivery_id,
    subscriptionId: row.subscription_id,
    url: row.url,
    eventId: row.event_id,
    eventSeq: row.event_seq,
    body: row.body,
    createdAt: row.created_at,
    attempts: row.attempts,
    reason: row.reason,
    failedAt: row.failed_at,
  };
  if (row.last_status !== null) dead.lastStatus = row.last_status;
  if (row.published_at !== null) dead.publishedAt = row.published_at;
  return dead;
}
