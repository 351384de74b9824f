import { HistoryError } from './history.error';
import { INCIDENT_ACTION_MIGRATIONS } from './incident-action.migrations';
import type { SqlDatabase } from './sql.port';
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
  /** Brings the schema up to date (idempotent, safe from replicas starting together). */
  static async open(
    database: SqlDatabase,
    clock: Clock = new SystemClock(),
  ): Promise<StreamSuppressionRepository> {
    await database.migrate(INCIDENT_ACTION_MIGRATIONS);
    return new StreamSuppressionRepository(database, clock);
  }

  private constructor(
    private readonly database: SqlDatabase,
    private readonly clock: Clock,
  ) {}

  async create(input: {
    streamId: string;
    classes: readonly string[];
    forMs: number;
    incidentId: string;
    actor: string;
  }): Promise<StreamSuppression[]> {
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
    return this.database.transaction(async (tx) => {
      const made: StreamSuppression[] = [];
      for (const cls of new Set(input.classes)) {
        const row = await tx.get<Row>(
          `INSERT INTO stream_suppressions
             (stream_id, cls, until_ms, incident_id, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING ${COLUMNS}`,
          [input.streamId, cls, now + input.forMs, input.incidentId, input.actor, now],
        );
        made.push(toSuppression(row!));
      }
      return made;
    });
  }

  /** Undo: NOT_FOUND for an unknown id, `conflict` for one already lifted or expired. */
  async lift(id: number, actor: string): Promise<StreamSuppression> {
    if (!Number.isSafeInteger(id))
      throw new HistoryError('not-found', 'id', `no suppression ${id}`);
    const now = this.clock.now();
    // One conditional UPDATE: of two operators lifting at once, exactly one gets the row.
    const lifted = await this.database.get<Row>(
      `UPDATE stream_suppressions SET lifted_by = ?, lifted_at = ?
       WHERE id = ? AND lifted_at IS NULL AND until_ms > ? RETURNING ${COLUMNS}`,
      [actor, now, id, now],
    );
    if (lifted) return toSuppression(lifted);
    const row = await this.database.get<Row>(
      `SELECT ${COLUMNS} FROM stream_suppressions WHERE id = ?`,
      [id],
    );
    if (!row) throw new HistoryError('not-found', 'id', `no suppression ${id}`);
    throw new HistoryError('conflict', 'id', `suppression ${id} no longer holds`);
  }

  async active(now = this.clock.now()): Promise<StreamSuppression[]> {
    const rows = await this.database.all<Row>(
      `SELECT ${COLUMNS} FROM stream_suppressions
       WHERE until_ms > ? AND lifted_at IS NULL ORDER BY id`,
      [now],
    );
    return rows.map(toSuppression);
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
