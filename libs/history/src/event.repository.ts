import {
  INCIDENT_STATES,
  SEVERITIES,
  isAudioClass,
  isVideoClass,
  severityRank,
  type SecurityEvent,
} from '@app/contracts';
import { checkFilter, compileFilter, type CheckedFilter } from './event-filter.compiler';
import { EVENT_MIGRATIONS } from './event.migrations';
import { HistoryError } from './history.error';
import { decodePageToken, encodePageToken, fingerprint } from './page.token';
import { lockInTransaction, type SqlDatabase, type SqlExecutor, type SqlValue } from './sql.port';
import type {
  EventFilter,
  EventMeta,
  EventOrder,
  EventPage,
  EvidenceRef,
  ListEventsQuery,
  SaveResult,
  StoredEvent,
  SweepLimits,
} from './stored-event.types';
import { SystemClock, type Clock } from './system.clock';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
export const DEFAULT_RESUME_LIMIT = 100;
/** Retention deletes in slices this big, each its own transaction, so fusion's writes interleave. */
const SWEEP_BATCH = 1000;

export interface EventRepositoryOptions {
  /** Rows per retention slice; tests shrink it to see slicing without thousands of saves. */
  sweepBatch?: number;
}

interface EventRow {
  seq: number;
  id: string;
  stream_id: string;
  rule: string;
  title: string;
  severity: SecurityEvent['severity'];
  trigger_cls: SecurityEvent['trigger'];
  start_sec: number;
  end_sec: number;
  occurred_at: number;
  stored_at: number;
  evidence: string;
  stream_labels: string | null;
  evidence_refs: string;
  incident_id: string;
  version: number;
  state: SecurityEvent['state'];
  triggers: string | null;
  site: string | null;
  zone: string | null;
  cameras: string | null;
  absorbed_by: string | null;
}

const COLUMNS =
  'seq, id, stream_id, rule, title, severity, trigger_cls, start_sec, end_sec, occurred_at, ' +
  'stored_at, evidence, stream_labels, evidence_refs, incident_id, version, state, triggers, ' +
  'site, zone, cameras, absorbed_by';

/**
 * Incidents with their detections, in the order they were stored. `seq` is the cursor for
 * paging and for Subscribe's resume; event ids stay the identity, so a replayed event (same
 * deterministic id after a crash, or the same incident version decided by two replicas) is
 * stored once and keeps its first seq.
 */
export class EventRepository {
  /** Brings the schema up to date (idempotent, safe from replicas starting together). */
  static async open(
    database: SqlDatabase,
    clock: Clock = new SystemClock(),
    { sweepBatch = SWEEP_BATCH }: EventRepositoryOptions = {},
  ): Promise<EventRepository> {
    await database.migrate(EVENT_MIGRATIONS);
    return new EventRepository(database, clock, sweepBatch);
  }

  private constructor(
    private readonly database: SqlDatabase,
    private readonly clock: Clock,
    private readonly sweepBatch: number,
  ) {}

  /**
   * Stores an event once: a replay (same id) changes nothing and answers the first seq. Pass
   * `tx` to store it in a transaction of the caller's (the outbox joins it); without one it
   * runs in its own.
   */
  async save(event: SecurityEvent, meta: EventMeta = {}, tx?: SqlExecutor): Promise<SaveResult> {
    checkEvent(event);
    const occurredAt = meta.occurredAt ?? this.clock.now();
    if (!Number.isFinite(occurredAt)) {
      throw new HistoryError('invalid-argument', 'occurredAt', 'must be a time in ms');
    }
    if (meta.streamLabels !== undefined) checkLabels(meta.streamLabels);
    const refs = meta.evidenceRefs ?? [];
    checkRefs(refs);
    if (!tx) return this.database.transaction((own) => this.save(event, meta, own));
    // Replicas' saves take turns, so seqs commit in the order they are drawn: Subscribe and the
    // console resume "after seq n", which would skip a lower seq committed after a higher one.
    await lockInTransaction(this.database.dialect, tx, 'vigil.events');
    // Looked up first: an ignored INSERT would still burn a seq, leaving a gap for every replay.
    const existing = await tx.get<{ seq: number }>('SELECT seq FROM events WHERE id = ?', [
      event.id,
    ]);
    if (existing) return { seq: existing.seq, inserted: false };
    // ON CONFLICT on the id only (not INSERT OR IGNORE, which would also swallow a row breaking
    // any other constraint): a replica that stored the same id meanwhile wins, and this one
    // answers its seq.
    const inserted = await tx.get<{ seq: number }>(
      `INSERT INTO events (id, stream_id, rule, title, severity, severity_rank, trigger_cls,
         start_sec, end_sec, occurred_at, stored_at, evidence, stream_labels, evidence_refs,
         incident_id, version, state, triggers, site, zone, cameras, absorbed_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO NOTHING RETURNING seq`,
      [
        event.id,
        event.streamId,
        event.rule,
        event.title,
        event.severity,
        severityRank(event.severity),
        event.trigger,
        event.startSec,
        event.endSec,
        Math.round(occurredAt),
        this.clock.now(),
        JSON.stringify(event.evidence),
        meta.streamLabels ? JSON.stringify(meta.streamLabels) : null,
        JSON.stringify(mergeRefs([], refs)),
        event.incidentId,
        event.version,
        event.state,
        JSON.stringify(event.triggers),
        event.site ?? null,
        event.zone ?? null,
        event.cameras ? JSON.stringify(event.cameras) : null,
        event.absorbedBy ?? null,
      ],
    );
    if (!inserted) {
      const winner = await tx.get<{ seq: number }>('SELECT seq FROM events WHERE id = ?', [
        event.id,
      ]);
      return { seq: winner!.seq, inserted: false };
    }
    const classes = [event.trigger, ...event.triggers, ...event.evidence.map((e) => e.cls)];
    for (const cls of new Set(classes)) {
      await tx.run('INSERT INTO event_classes (cls, seq) VALUES (?, ?) ON CONFLICT DO NOTHING', [
        cls,
        inserted.seq,
      ]);
    }
    return { seq: inserted.seq, inserted: true };
  }

  async get(id: string, tx: SqlExecutor = this.database): Promise<StoredEvent | undefined> {
    const row = await tx.get<EventRow>(`SELECT ${COLUMNS} FROM events WHERE id = ?`, [id]);
    return row && toStored(row);
  }

  /** Every stored version of an incident, oldest first; empty when none is stored. */
  async incident(incidentId: string): Promise<StoredEvent[]> {
    const rows = await this.database.all<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE incident_id = ? ORDER BY version, seq`,
      [incidentId],
    );
    return rows.map(toStored);
  }

  /** One page of events matching the query, in storage order. */
  async list(query: ListEventsQuery = {}): Promise<EventPage> {
    const filter = checkFilter(query);
    const order = checkOrder(query.order);
    const pageSize = checkPageSize(query.pageSize, 'pageSize', DEFAULT_PAGE_SIZE);
    const queryPrint = fingerprint({ ...filter, order });
    const cursor = query.pageToken ? decodePageToken(query.pageToken, queryPrint) : undefined;
    const rows = await this.select(filter, order, cursor, pageSize + 1);
    if (rows.length <= pageSize) return { events: rows.map(toStored) };
    const events = rows.slice(0, pageSize).map(toStored);
    return { events, nextPageToken: encodePageToken(events[pageSize - 1].seq, queryPrint) };
  }

  /**
   * Events stored after a cursor, oldest first: Subscribe's catch-up after a reconnect. The
   * cursor is a seq (0 for the beginning) or the id of the last event the client saw; an id
   * that is not stored (never was, or retention removed it) is NOT_FOUND, because guessing
   * where to resume could skip events. Call again with the last seq until fewer than `limit`
   * come back.
   */
  async after(
    cursor: number | string,
    filter: EventFilter = {},
    limit = DEFAULT_RESUME_LIMIT,
  ): Promise<StoredEvent[]> {
    const checked = checkFilter({
      streamIds: filter.streamIds,
      classes: filter.classes,
      minSeverity: filter.minSeverity,
      sites: filter.sites,
      zones: filter.zones,
    });
    const size = checkPageSize(limit, 'limit', DEFAULT_RESUME_LIMIT);
    const from = await this.resolveCursor(cursor);
    return (await this.select(checked, 'oldest-first', from, size)).map(toStored);
  }

  /**
   * The highest seq ever assigned, 0 when none: where a live Subscribe starts. Not max(seq) of
   * the rows left: once retention has emptied the table, a live subscriber must still start
   * after everything it could ever have seen.
   */
  async latestSeq(): Promise<number> {
    const row = await this.database.get<{ id: number }>(
      this.database.dialect.latestIdSql('events', 'seq'),
    );
    return row?.id ?? 0;
  }

  async count(): Promise<number> {
    const row = await this.database.get<{ n: number }>('SELECT count(*) AS n FROM events');
    return row!.n;
  }

  /**
   * Adds evidence files to a stored event; a ref with a name already present replaces it, so
   * an uploader that retries, or a clip that supersedes a partial one, does not duplicate.
   */
  async attachEvidence(id: string, refs: readonly EvidenceRef[]): Promise<StoredEvent> {
    checkRefs(refs);
    return this.database.transaction(async (tx) => {
      const row = await tx.get<EventRow>(
        `SELECT ${COLUMNS} FROM events WHERE id = ?${this.database.dialect.forUpdate}`,
        [id],
      );
      if (!row) throw new HistoryError('not-found', 'id', `no stored event ${id}`);
      const merged = JSON.stringify(
        mergeRefs(JSON.parse(row.evidence_refs) as EvidenceRef[], refs),
      );
      await tx.run('UPDATE events SET evidence_refs = ? WHERE id = ?', [merged, id]);
      return toStored({ ...row, evidence_refs: merged });
    });
  }

  /**
   * Retention: deletes events older than `maxAgeMs` (by occurredAt), then the oldest (by seq)
   * beyond `maxCount`. Returns how many events were deleted.
   */
  async sweep(limits: SweepLimits): Promise<number> {
    const now = limits.now ?? this.clock.now();
    if (!Number.isFinite(now)) throw new HistoryError('invalid-argument', 'now', 'must be ms');
    for (const field of ['maxAgeMs', 'maxCount'] as const) {
      const value = limits[field];
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
        throw new HistoryError('invalid-argument', field, 'must be a whole number ≥ 0');
      }
    }
    let deleted = 0;
    if (limits.maxAgeMs !== undefined) {
      const cutoff = now - limits.maxAgeMs;
      deleted += await this.deleteInBatches(
        `DELETE FROM events WHERE seq IN (
           SELECT seq FROM events WHERE occurred_at < ? ORDER BY seq LIMIT ?)`,
        cutoff,
      );
    }
    if (limits.maxCount !== undefined) {
      // The cutoff is fixed before deleting, so events saved meanwhile are never swept.
      const cutoff = await this.database.get<{ seq: number }>(
        'SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?',
        [limits.maxCount],
      );
      if (cutoff !== undefined) {
        deleted += await this.deleteInBatches(
          'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT ?)',
          cutoff.seq,
        );
      }
    }
    return deleted;
  }

  /** Slices of `sweepBatch`, each its own statement, so fusion's writes interleave. */
  private async deleteInBatches(sql: string, bound: number): Promise<number> {
    let total = 0;
    for (;;) {
      const { changes } = await this.database.run(sql, [bound, this.sweepBatch]);
      total += changes;
      if (changes < this.sweepBatch) return total;
    }
  }

  private async resolveCursor(cursor: number | string): Promise<number> {
    if (typeof cursor === 'number') {
      if (!Number.isSafeInteger(cursor) || cursor < 0) {
        throw new HistoryError('invalid-argument', 'cursor', 'must be a seq ≥ 0 or an event id');
      }
      return cursor;
    }
    if (typeof cursor !== 'string' || cursor === '') {
      throw new HistoryError('invalid-argument', 'cursor', 'must be a seq ≥ 0 or an event id');
    }
    const row = await this.database.get<{ seq: number }>('SELECT seq FROM events WHERE id = ?', [
      cursor,
    ]);
    if (!row) {
      throw new HistoryError(
        'not-found',
        'cursor',
        `event ${cursor} is not in the history (never stored, or removed by retention); ` +
          'list events to find where to start again',
      );
    }
    return row.seq;
  }

  private select(
    filter: CheckedFilter,
    order: EventOrder,
    cursor: number | undefined,
    limit: number,
  ): Promise<EventRow[]> {
    const { where, params } = compileFilter(filter, this.database.dialect);
    const newestFirst = order === 'newest-first';
    const keyset = cursor === undefined ? '' : newestFirst ? ' AND seq < ?' : ' AND seq > ?';
    const sql =
      `SELECT ${COLUMNS} FROM events WHERE ${where}${keyset} ` +
      `ORDER BY seq ${newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
    const args: SqlValue[] = cursor === undefined ? [...params, limit] : [...params, cursor, limit];
    return this.database.all<EventRow>(sql, args);
  }
}

function toStored(row: EventRow): StoredEvent {
  const stored: StoredEvent = {
    seq: row.seq,
    event: {
      id: row.id,
      streamId: row.stream_id,
      rule: row.rule,
      title: row.title,
      severity: row.severity,
      startSec: row.start_sec,
      endSec: row.end_sec,
      trigger: row.trigger_cls,
      triggers: row.triggers
        ? (JSON.parse(row.triggers) as SecurityEvent['triggers'])
        : [row.trigger_cls],
      incidentId: row.incident_id,
      version: row.version,
      state: row.state,
      evidence: JSON.parse(row.evidence) as SecurityEvent['evidence'],
      ...(row.site !== null ? { site: row.site } : {}),
      ...(row.zone !== null ? { zone: row.zone } : {}),
      ...(row.cameras !== null ? { cameras: JSON.parse(row.cameras) as string[] } : {}),
      ...(row.absorbed_by !== null ? { absorbedBy: row.absorbed_by } : {}),
    },
    occurredAt: row.occurred_at,
    storedAt: row.stored_at,
    evidenceRefs: JSON.parse(row.evidence_refs) as EvidenceRef[],
  };
  if (row.stream_labels !== null) {
    stored.streamLabels = JSON.parse(row.stream_labels) as Record<string, string>;
  }
  return stored;
}

function mergeRefs(existing: readonly EvidenceRef[], added: readonly EvidenceRef[]): EvidenceRef[] {
  const byName = new Map(existing.map((ref) => [ref.name, ref]));
  for (const ref of added) {
    byName.set(ref.name, {
      name: ref.name,
      key: ref.key,
      contentType: ref.contentType,
      bytes: ref.bytes,
      sha256: ref.sha256.toLowerCase(),
    });
  }
  return [...byName.values()];
}

function checkOrder(order: EventOrder | undefined): EventOrder {
  if (order === undefined) return 'newest-first';
  if (order !== 'newest-first' && order !== 'oldest-first') {
    throw new HistoryError('invalid-argument', 'order', 'must be newest-first or oldest-first');
  }
  return order;
}

/** 0 or absent means the default; more than the maximum is served as the maximum. */
function checkPageSize(size: number | undefined, field: string, fallback: number): number {
  if (size === undefined || size === 0) return fallback;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new HistoryError('invalid-argument', field, 'must be a whole number ≥ 0');
  }
  return Math.min(size, MAX_PAGE_SIZE);
}

function checkEvent(event: SecurityEvent): void {
  for (const field of ['id', 'streamId', 'rule', 'title'] as const) {
    if (typeof event[field] !== 'string' || event[field] === '') {
      throw new HistoryError('invalid-argument', field, 'must be a non-empty string');
    }
  }
  if (typeof event.incidentId !== 'string' || event.incidentId === '') {
    throw new HistoryError('invalid-argument', 'incidentId', 'must be a non-empty string');
  }
  if (!Number.isInteger(event.version) || event.version < 1) {
    throw new HistoryError('invalid-argument', 'version', 'must be an integer ≥ 1');
  }
  if (!(INCIDENT_STATES as readonly string[]).includes(event.state)) {
    throw new HistoryError('invalid-argument', 'state', `unknown state ${event.state}`);
  }
  if (!Array.isArray(event.triggers) || !event.triggers.every(isKnownClass)) {
    throw new HistoryError('invalid-argument', 'triggers', 'every item must be a known class');
  }
  if (!(SEVERITIES as readonly string[]).includes(event.severity)) {
    throw new HistoryError('invalid-argument', 'severity', `unknown severity ${event.severity}`);
  }
  if (!isKnownClass(event.trigger)) {
    throw new HistoryError('invalid-argument', 'trigger', `unknown class ${event.trigger}`);
  }
  if (!Number.isFinite(event.startSec) || !Number.isFinite(event.endSec)) {
    throw new HistoryError('invalid-argument', 'startSec', 'startSec and endSec must be numbers');
  }
  if (!Array.isArray(event.evidence) || !event.evidence.every((e) => isKnownClass(e?.cls))) {
    throw new HistoryError('invalid-argument', 'evidence', 'every item needs a known cls');
  }
}

function isKnownClass(value: unknown): boolean {
  return typeof value === 'string' && (isAudioClass(value) || isVideoClass(value));
}

function checkLabels(labels: Record<string, string>): void {
  if (
    labels === null ||
    typeof labels !== 'object' ||
    Array.isArray(labels) ||
    !Object.values(labels).every((value) => typeof value === 'string')
  ) {
    throw new HistoryError('invalid-argument', 'streamLabels', 'must map names to strings');
  }
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

function checkRefs(refs: readonly EvidenceRef[]): void {
  if (!Array.isArray(refs)) {
    throw new HistoryError('invalid-argument', 'evidenceRefs', 'must be a list');
  }
  for (const ref of refs) {
    const ok =
      typeof ref?.name === 'string' &&
      ref.name !== '' &&
      typeof ref.key === 'string' &&
      ref.key !== '' &&
      typeof ref.contentType === 'string' &&
      Number.isSafeInteger(ref.bytes) &&
      ref.bytes >= 0 &&
      typeof ref.sha256 === 'string' &&
      SHA256_HEX.test(ref.sha256);
    if (!ok) {
      throw new HistoryError(
        'invalid-argument',
        'evidenceRefs',
        'each needs a name, a key, a contentType, bytes ≥ 0 and a sha256 in hex',
      );
    }
  }
}
