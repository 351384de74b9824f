import type { Statement } from 'better-sqlite3';
import type { HistoryDatabase } from './history.database';
import { HistoryError } from './history.error';
import { INCIDENT_ACTION_MIGRATIONS } from './incident-action.migrations';
import { SystemClock, type Clock } from './system.clock';

/** A week: feedback is a stopgap until the stream is recalibrated, not a permanent mute. */
export const MAX_SUPPRESSION_MS = 7 * 86_400_000;

export interface StreamSuppression {
  id: number;
  streamId: string;
  cls: string;
  /** Wall-clock ms; the suppression no longer holds from then. */
  until: number;
  /** The incident whose "false alarm" asked for it. */
  incidentId: string;
  createdBy: string;
  createdAt: number;
  liftedBy?: string;
  liftedAt?: number;
}

interface Row {
  id: number;
  stream_id: string;
  cls: string;
  until_ms: number;
  incident_id: string;
  created_by: string;
  created_at: number;
  lifted_by: string | null;
  lifted_at: number | null;
}

const COLUMNS =
  'id, stream_id, cls, until_ms, incident_id, created_by, created_at, lifted_by, lifted_at';

/**
 * Classes an operator asked to ignore on a stream for a while, after calling an incident a
 * false alarm: visible, expiring and undoable (lifted). Fusion reads the active ones.
 */
export class StreamSuppressionRepository {
  private readonly insert: Statement<[string, string, number, string, string, number]>;
  private readonly selectActive: Statement<[number], Row>;
  private readonly selectById: Statement<[number], Row>;
  private readonly updateLift: Statement<[string, number, number]>;

  constructor(
    private readonly database: HistoryDatabase,
    private readonly clock: Clock = new SystemClock(),
  ) {
    database.migrate(INCIDENT_ACTION_MIGRATIONS);
    const db = database.connection;
    this.insert = db.prepare(
      `INSERT INTO stream_suppressions (stream_id, cls, until_ms, incident_id, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.selectActive = db.prepare(
      `SELECT ${COLUMNS} FROM stream_suppressions
       WHERE until_ms > ? AND lifted_at IS NULL ORDER BY id`,
    );
    this.selectById = db.prepare(`SELECT ${COLUMNS} FROM stream_suppressions WHERE id = ?`);
    this.updateLift = db.prepare(
      'UPDATE stream_suppressions SET lifted_by = ?, lifted_at = ? WHERE id = ?',
    );
  }

  create(input: {
    streamId: string;
    classes: readonly string[];
    forMs: number;
    incidentId: string;
    actor: string;
  }): StreamSuppression[] {
    if (
      !Number.isSafeInteger(input.forMs) ||
      input.forMs <= 0 ||
      input.forMs > MAX_SUPPRESSION_MS
    ) {
      throw new HistoryError(
        'invalid-argument',
        'forMs',
        `must be a whole number of ms from 1 to ${MAX_SUPPRESSION_MS}`,
      );
    }
    if (input.classes.length === 0) {
      throw new HistoryError('invalid-argument', 'classes', 'must name at least one class');
    }
    const now = this.clock.now();
    return this.database.transaction(() =>
      [...new Set(input.classes)].map((cls) => {
        const id = Number(
          this.insert.run(
            input.streamId,
            cls,
            now + input.forMs,
            input.incidentId,
            input.actor,
            now,
          ).lastInsertRowid,
        );
        return toSuppression(this.selectById.get(id)!);
      }),
    );
  }

  /** Undo: NOT_FOUND for an unknown id, `conflict` for one already lifted or expired. */
  lift(id: number, actor: string): StreamSuppression {
    return this.database.transaction(() => {
      const row = Number.isSafeInteger(id) ? this.selectById.get(id) : undefined;
      if (!row) throw new HistoryError('not-found', 'id', `no suppression ${id}`);
      const now = this.clock.now();
      if (row.lifted_at !== null || row.until_ms <= now) {
        throw new HistoryError('conflict', 'id', `suppression ${id} no longer holds`);
      }
      this.updateLift.run(actor, now, id);
      return toSuppression(this.selectById.get(id)!);
    });
  }

  active(now = this.clock.now()): StreamSuppression[] {
    return this.selectActive.all(now).map(toSuppression);
  }
}

function toSuppression(row: Row): StreamSuppression {
  return {
    id: row.id,
    streamId: row.stream_id,
    cls: row.cls,
    until: row.until_ms,
    incidentId: row.incident_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    ...(row.lifted_by !== null ? { liftedBy: row.lifted_by } : {}),
    ...(row.lifted_at !== null ? { liftedAt: row.lifted_at } : {}),
  };
}
