import {
  SystemClock,
  type Clock,
  type SqlDatabase,
  type SqlExecutor,
  type SqlValue,
  type StoredEvent,
} from '@app/history';
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
/**
 * Back into the queue with a fresh budget, keeping its id, delivery id and place in order.
 * Parameters in a SELECT list are cast: PostgreSQL would otherwise take them for text.
 */
const REPLAY = `INSERT INTO webhook_outbox (id, delivery_id, subscription_id, event_id, event_seq,
    body, created_at, retry_from, attempts, next_attempt_at)
  SELECT id, delivery_id, subscription_id, event_id, event_seq, body, created_at,
    CAST(? AS BIGINT), 0, CAST(? AS BIGINT)
  FROM webhook_dead`;

/**
 * The durable queue of webhook deliveries, in the history's database. `enqueue` joins the
 * transaction that stores the event: an event is stored if and only if its deliveries are
 * queued. A row leaves the queue only after a 2xx (`complete`) or when given up on (`kill`, into
 * `webhook_dead`); a crash in between leaves it pending, and a dispatcher resumes it once its
 * claim's lease has run out. Replicas sharing a PostgreSQL database may each run a dispatcher:
 * a claim is a conditional UPDATE that exactly one of them wins.
 */
export class WebhookOutbox {
  private readonly bodies: WebhookBodyBuilder;
  private readonly clock: Clock;

  /** Brings the schema up to date (idempotent, safe from replicas starting together). */
  static async open(
    database: SqlDatabase,
    options: WebhookOutboxOptions = {},
  ): Promise<WebhookOutbox> {
    await database.migrate(OUTBOX_MIGRATIONS);
    return new WebhookOutbox(database, options);
  }

  private constructor(
    private readonly database: SqlDatabase,
    options: WebhookOutboxOptions,
  ) {
    this.bodies = options.bodies ?? new WebhookBodyBuilder();
    this.clock = options.clock ?? new SystemClock();
  }

  /**
   * Queues one delivery of a stored event to each subscription whose filter it matches, with
   * the body serialised once. Idempotent per (subscription, event id). Call it with the
   * transaction that saved the event, and only when the save inserted it: an event replayed
   * after its deliveries completed would otherwise be delivered again. Returns the ids of the
   * subscriptions it was queued for now.
   */
  async enqueue(
    stored: StoredEvent,
    subscriptions: readonly WebhookSubscription[],
    tx?: SqlExecutor,
  ): Promise<string[]> {
    const matching = subscriptions.filter((s) => webhookMatches(s.filter, stored.event));
    if (matching.length === 0) return [];
    if (!tx) return this.database.transaction((own) => this.enqueue(stored, subscriptions, own));
    const body = this.bodies.serialize(stored);
    const now = this.clock.now();
    const eventId = stored.event.id;
    const queued: string[] = [];
    for (const s of matching) {
      // A delivery given up on is not queued again by a replay of its event; replaying the
      // dead letter is the deliberate way back.
      const { changes } = await tx.run(
        `INSERT INTO webhook_outbox (event_seq, delivery_id, subscription_id, event_id,
           created_at, retry_from, next_attempt_at, body)
         SELECT CAST(? AS BIGINT), ?, ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT),
           CAST(? AS BIGINT), ?
         WHERE NOT EXISTS (SELECT 1 FROM webhook_dead WHERE subscription_id = ? AND event_id = ?)
         ON CONFLICT (subscription_id, event_id) DO NOTHING`,
        [stored.seq, webhookDeliveryId(s.id, eventId), s.id, eventId, now, now, now, body].concat([
          s.id,
          eventId,
        ]),
      );
      if (changes > 0) queued.push(s.id);
    }
    return queued;
  }

  /**
   * A subscription's deliveries whose time has come, longest waiting first and in event order
   * among equals. Only these are loaded: a backlog waits on disk, however long.
   */
  async due(subscriptionId: string, now: number, limit: number): Promise<PendingDelivery[]> {
    const rows = await this.database.all<PendingRow>(
      `SELECT ${PENDING} FROM webhook_outbox
       WHERE subscription_id = ? AND next_attempt_at <= ?
       ORDER BY next_attempt_at, event_seq, id LIMIT ?`,
      [subscriptionId, now, limit],
    );
    return rows.map(toPending);
  }

  /** When the next of a subscription's deliveries not yet due becomes due; undefined if none. */
  async nextDueAfter(subscriptionId: string, now: number): Promise<number | undefined> {
    const row = await this.database.get<{ at: number | null }>(
      `SELECT min(next_attempt_at) AS at FROM webhook_outbox
       WHERE subscription_id = ? AND next_attempt_at > ?`,
      [subscriptionId, now],
    );
    return row?.at ?? undefined;
  }

  async get(id: number): Promise<PendingDelivery | undefined> {
    const row = await this.database.get<PendingRow>(
      `SELECT ${PENDING} FROM webhook_outbox WHERE id = ?`,
      [id],
    );
    return row && toPending(row);
  }

  /**
   * Counts the attempt about to start, durably, before its request leaves: a crash in the
   * middle of it is then resent as the next attempt, never the same one twice. Of two claims
   * from the same read exactly one wins (the attempt count must match).
   *
   * On PostgreSQL, where replicas' dispatchers share the queue, the row is also leased for
   * `leaseMs` (pushed out of `due`), so no other dispatcher sends it while this attempt is in
   * flight; its outcome then sets its real next time, and a replica that died mid-attempt has
   * its row taken over once the lease runs out. A SQLite file has one dispatcher, which after a
   * crash resends at once: no lease there.
   */
  async claim(
    delivery: Pick<PendingDelivery, 'id' | 'attempts'>,
    leaseMs = 0,
  ): Promise<number | undefined> {
    const now = this.clock.now();
    if (this.database.dialect.name === 'sqlite') leaseMs = 0;
    const { changes } = await this.database.run(
      `UPDATE webhook_outbox
       SET attempts = attempts + 1, last_attempt_at = ?,
           next_attempt_at = CASE WHEN next_attempt_at > ? THEN next_attempt_at ELSE ? END
       WHERE id = ? AND attempts = ? AND next_attempt_at <= ?`,
      [now, now + leaseMs, now + leaseMs, delivery.id, delivery.attempts, now],
    );
    return changes > 0 ? delivery.attempts + 1 : undefined;
  }

  /**
   * Gives back a claim whose attempt was cut off (the dispatcher stopping): due again at `at`,
   * so the next dispatcher sends it first, in its place. The attempt stays counted.
   */
  async release(id: number, at: number): Promise<boolean> {
    const { changes } = await this.database.run(
      'UPDATE webhook_outbox SET next_attempt_at = ? WHERE id = ?',
      [at, id],
    );
    return changes > 0;
  }

  /** Records why the attempt failed and when to try again. */
  async markFailedAttempt(id: number, failure: FailedAttempt): Promise<boolean> {
    const { changes } = await this.database.run(
      `UPDATE webhook_outbox SET next_attempt_at = ?, last_error = ?, last_status = ?
       WHERE id = ?`,
      [failure.nextAttemptAt, failure.error, failure.status ?? null, id],
    );
    return changes > 0;
  }

  /** The receiver answered 2xx: the delivery is done. */
  async complete(id: number): Promise<boolean> {
    const { changes } = await this.database.run('DELETE FROM webhook_outbox WHERE id = ?', [id]);
    return changes > 0;
  }

  /** Moves a delivery to the dead table, in one transaction; undefined if it is not pending. */
  kill(id: number, giveUp: GiveUp): Promise<DeadDelivery | undefined> {
    return this.database.transaction(async (tx) => {
      const failedAt = this.clock.now();
      const moved = await tx.run(
        `INSERT INTO webhook_dead (id, delivery_id, subscription_id, url, event_id, event_seq,
           body, created_at, attempts, reason, last_status, failed_at)
         SELECT id, delivery_id, subscription_id, ?, event_id, event_seq, body, created_at,
           CAST(? AS INTEGER), ?, CAST(? AS INTEGER), CAST(? AS BIGINT)
         FROM webhook_outbox WHERE id = ?`,
        [giveUp.url, giveUp.attempts, giveUp.reason, giveUp.status ?? null, failedAt, id],
      );
      if (moved.changes === 0) return undefined;
      await tx.run('DELETE FROM webhook_outbox WHERE id = ?', [id]);
      const row = await tx.get<DeadRow>(`SELECT ${DEAD} FROM webhook_dead WHERE id = ?`, [id]);
      return toDead(row!);
    });
  }

  async markPublished(deadId: number): Promise<boolean> {
    const { changes } = await this.database.run(
      'UPDATE webhook_dead SET published_at = ? WHERE id = ?',
      [this.clock.now(), deadId],
    );
    return changes > 0;
  }

  /** Dead deliveries whose dead letter the bus has not accepted yet, oldest first. */
  async unpublished(limit = 100): Promise<DeadDelivery[]> {
    const rows = await this.database.all<DeadRow>(
      `SELECT ${DEAD} FROM webhook_dead WHERE published_at IS NULL ORDER BY id LIMIT ?`,
      [limit],
    );
    return rows.map(toDead);
  }

  async findDead(deliveryId: string): Promise<DeadDelivery | undefined> {
    const row = await this.database.get<DeadRow>(
      `SELECT ${DEAD} FROM webhook_dead WHERE delivery_id = ?`,
      [deliveryId],
    );
    return row && toDead(row);
  }

  /**
   * Puts dead deliveries back in their subscriptions' queues, due now, with fresh attempts and
   * a fresh retry budget, all or none. Returns how many went back (fewer when some were
   * replayed by someone else meanwhile).
   */
  replayDead(deadIds: readonly number[]): Promise<number> {
    const now = this.clock.now();
    return this.database.transaction(async (tx) => {
      let replayed = 0;
      for (const id of deadIds) {
        // Deleted first: of two replays racing, the one whose DELETE found the row moves it.
        const row = await tx.get<DeadRow>(
          `DELETE FROM webhook_dead WHERE id = ? RETURNING ${DEAD}`,
          [id],
        );
        if (!row) continue;
        await tx.run(
          `INSERT INTO webhook_outbox (id, delivery_id, subscription_id, event_id, event_seq,
             body, created_at, retry_from, attempts, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
          [
            row.id,
            row.delivery_id,
            row.subscription_id,
            row.event_id,
            row.event_seq,
            row.body,
            row.created_at,
            now,
            now,
          ],
        );
        replayed += 1;
      }
      return replayed;
    });
  }

  /** Every dead delivery of these subscriptions back in the queue, as replayDead does. */
  replayAllDead(subscriptionIds: readonly string[]): Promise<number> {
    const now = this.clock.now();
    const { dialect } = this.database;
    const ids = dialect.listParam(subscriptionIds);
    return this.database.transaction(async (tx) => {
      const select = `SELECT id FROM webhook_dead WHERE ${dialect.inList('subscription_id')}`;
      // Locked first on PostgreSQL, so a concurrent replay waits instead of inserting twice.
      await tx.all(`${select} ORDER BY id${dialect.forUpdate}`, [ids]);
      const replayed = await tx.run(
        `${REPLAY} WHERE ${dialect.inList('subscription_id')} ORDER BY id`,
        [now, now, ids],
      );
      await tx.run(`DELETE FROM webhook_dead WHERE ${dialect.inList('subscription_id')}`, [ids]);
      return replayed.changes;
    });
  }

  /**
   * Retention for the dead table, as for events: rows that failed before `before` (ms) and whose
   * dead letter the bus has taken. Bounded per call; returns how many were deleted.
   */
  async pruneDead(before: number, limit = 1000): Promise<number> {
    const { changes } = await this.database.run(
      `DELETE FROM webhook_dead WHERE id IN (
         SELECT id FROM webhook_dead
         WHERE failed_at < ? AND published_at IS NOT NULL ORDER BY id LIMIT ?)`,
      [before, limit],
    );
    return changes;
  }

  /** Dead deliveries, oldest first (by outbox id), a page at a time. */
  async listDead(query: DeadQuery = {}): Promise<DeadDelivery[]> {
    const limit = query.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be ≥ 1');
    const clauses = ['id > ?'];
    const params: SqlValue[] = [query.afterId ?? 0];
    if (query.subscriptionId !== undefined) {
      clauses.push('subscription_id = ?');
      params.push(query.subscriptionId);
    }
    const rows = await this.database.all<DeadRow>(
      `SELECT ${DEAD} FROM webhook_dead WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`,
      [...params, limit],
    );
    return rows.map(toDead);
  }

  async pendingCount(subscriptionId?: string): Promise<number> {
    const row =
      subscriptionId === undefined
        ? await this.database.get<{ n: number }>('SELECT count(*) AS n FROM webhook_outbox')
        : await this.database.get<{ n: number }>(
            'SELECT count(*) AS n FROM webhook_outbox WHERE subscription_id = ?',
            [subscriptionId],
          );
    return row!.n;
  }

  /** Pending deliveries per subscription id, including ids no longer configured. */
  async pendingBySubscription(): Promise<Map<string, number>> {
    return this.countBy('webhook_outbox');
  }

  /** Dead deliveries per subscription id, including ids no longer configured. */
  async deadBySubscription(): Promise<Map<string, number>> {
    return this.countBy('webhook_dead');
  }

  private async countBy(table: 'webhook_outbox' | 'webhook_dead'): Promise<Map<string, number>> {
    const rows = await this.database.all<{ id: string; n: number }>(
      `SELECT subscription_id AS id, count(*) AS n FROM ${table}
       GROUP BY subscription_id ORDER BY subscription_id`,
    );
    return new Map(rows.map((row) => [row.id, row.n]));
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
