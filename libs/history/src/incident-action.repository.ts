import { HistoryError } from './history.error';
import { INCIDENT_ACTION_MIGRATIONS } from './incident-action.migrations';
import { lockInTransaction, type SqlDatabase } from './sql.port';
import { SystemClock, type Clock } from './system.clock';

export const INCIDENT_ACTIONS = ['acknowledge', 'resolve', 'false_alarm'] as const;
export type IncidentActionKind = (typeof INCIDENT_ACTIONS)[number];
/** Where an incident stands with the operators: `new` until someone acts on it. */
export type IncidentDisposition = 'new' | 'acknowledged' | 'resolved' | 'false_alarm';

export const MAX_ACTION_NOTE = 2000;

const DISPOSITION: Readonly<Record<IncidentActionKind, IncidentDisposition>> = {
  acknowledge: 'acknowledged',
  resolve: 'resolved',
  false_alarm: 'false_alarm',
};

/** One entry of the audit trail. */
export interface IncidentAction {
  /** Storage order, never reused: the live feed's resume cursor. */
  seq: number;
  incidentId: string;
  action: IncidentActionKind;
  note: string;
  /** The token's name, as the API's auth knows it. */
  actor: string;
  role: string;
  /** Wall-clock ms. */
  at: number;
}

export interface NewIncidentAction {
  incidentId: string;
  action: IncidentActionKind;
  note?: string;
  actor: string;
  role: string;
}

interface ActionRow {
  seq: number;
  incident_id: string;
  action: IncidentActionKind;
  note: string;
  actor: string;
  role: string;
  at: number;
}

const COLUMNS = 'seq, incident_id, action, note, actor, role, at';
const MAX_AFTER = 500;

export function dispositionOf(actions: readonly IncidentAction[]): IncidentDisposition {
  const last = actions[actions.length - 1];
  return last ? DISPOSITION[last.action] : 'new';
}

/**
 * What operators did about incidents, in the history beside the events. An incident is
 * acknowledged at most once and resolved or called a false alarm once, after which it takes
 * no more actions: the trail reads as one story, and two consoles racing get one winner (on
 * PostgreSQL, where replicas write at once, through a lock per incident).
 */
export class IncidentActionRepository {
  /** Brings the schema up to date (idempotent, safe from replicas starting together). */
  static async open(
    database: SqlDatabase,
    clock: Clock = new SystemClock(),
  ): Promise<IncidentActionRepository> {
    await database.migrate(INCIDENT_ACTION_MIGRATIONS);
    return new IncidentActionRepository(database, clock);
  }

  private constructor(
    private readonly database: SqlDatabase,
    private readonly clock: Clock,
  ) {}

  /**
   * Records an action on a stored incident: NOT_FOUND for an unknown incident, `conflict` for
   * one already closed by an operator or acknowledged twice. Nothing is written when it throws.
   */
  async record(input: NewIncidentAction): Promise<IncidentAction> {
    if (typeof input.incidentId !== 'string' || input.incidentId === '') {
      throw new HistoryError('invalid-argument', 'incidentId', 'must be a non-empty string');
    }
    if (!(INCIDENT_ACTIONS as readonly string[]).includes(input.action)) {
      throw new HistoryError(
        'invalid-argument',
        'action',
        `must be one of ${INCIDENT_ACTIONS.join(', ')}`,
      );
    }
    const note = input.note ?? '';
    if (typeof note !== 'string' || note.length > MAX_ACTION_NOTE) {
      throw new HistoryError(
        'invalid-argument',
        'note',
        `must be text of at most ${MAX_ACTION_NOTE} characters`,
      );
    }
    for (const field of ['actor', 'role'] as const) {
      if (typeof input[field] !== 'string' || input[field] === '') {
        throw new HistoryError('invalid-argument', field, 'must be a non-empty string');
      }
    }
    return this.database.transaction(async (tx) => {
      // Read-then-write: two replicas would otherwise both see "new" and both write. One lock
      // for every action, not one per incident, so seqs also commit in order and a live
      // console resuming after seq n never skips an action committed late below it.
      await lockInTransaction(this.database.dialect, tx, 'vigil.incident_actions');
      const exists = await tx.get('SELECT 1 AS one FROM events WHERE incident_id = ? LIMIT 1', [
        input.incidentId,
      ]);
      if (!exists) {
        throw new HistoryError('not-found', 'incidentId', `no incident ${input.incidentId}`);
      }
      const trail = (
        await tx.all<ActionRow>(
          `SELECT ${COLUMNS} FROM incident_actions WHERE incident_id = ? ORDER BY seq`,
          [input.incidentId],
        )
      ).map(toAction);
      const now = dispositionOf(trail);
      if (now === 'resolved' || now === 'false_alarm') {
        throw new HistoryError(
          'conflict',
          'action',
          `incident ${input.incidentId} is already ${now === 'resolved' ? 'resolved' : 'closed as a false alarm'}`,
        );
      }
      if (input.action === 'acknowledge' && now === 'acknowledged') {
        throw new HistoryError(
          'conflict',
          'action',
          `incident ${input.incidentId} is already acknowledged`,
        );
      }
      const at = this.clock.now();
      const row = await tx.get<{ seq: number }>(
        `INSERT INTO incident_actions (incident_id, action, note, actor, role, at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`,
        [input.incidentId, input.action, note, input.actor, input.role, at],
      );
      return {
        seq: row!.seq,
        incidentId: input.incidentId,
        action: input.action,
        note,
        actor: input.actor,
        role: input.role,
        at,
      };
    });
  }

  /** An incident's trail, oldest first. */
  async forIncident(incidentId: string): Promise<IncidentAction[]> {
    const rows = await this.database.all<ActionRow>(
      `SELECT ${COLUMNS} FROM incident_actions WHERE incident_id = ? ORDER BY seq`,
      [incidentId],
    );
    return rows.map(toAction);
  }

  /** Where each of these incidents stands, in one query; incidents without actions are absent. */
  async dispositions(incidentIds: readonly string[]): Promise<Map<string, IncidentDisposition>> {
    const found = new Map<string, IncidentDisposition>();
    if (incidentIds.length === 0) return found;
    const { dialect } = this.database;
    const rows = await this.database.all<{ incident_id: string; action: IncidentActionKind }>(
      `SELECT incident_id, action FROM incident_actions
       WHERE ${dialect.inList('incident_id')} ORDER BY seq`,
      [dialect.listParam(incidentIds)],
    );
    // Ordered by seq: the last action of each incident wins, as in dispositionOf.
    for (const row of rows) found.set(row.incident_id, DISPOSITION[row.action]);
    return found;
  }

  /** Actions stored after `seq`, oldest first: a live console's catch-up after a reconnect. */
  async after(seq: number, limit = MAX_AFTER): Promise<IncidentAction[]> {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new HistoryError('invalid-argument', 'seq', 'must be a whole number ≥ 0');
    }
    const rows = await this.database.all<ActionRow>(
      `SELECT ${COLUMNS} FROM incident_actions WHERE seq > ? ORDER BY seq LIMIT ?`,
      [seq, Math.min(Math.max(1, limit), MAX_AFTER)],
    );
    return rows.map(toAction);
  }

  async latestSeq(): Promise<number> {
    const row = await this.database.get<{ id: number }>(
      this.database.dialect.latestIdSql('incident_actions', 'seq'),
    );
    return row?.id ?? 0;
  }

  /** Retention: the trail goes with the incident's last event. Returns how many were removed. */
  async sweep(): Promise<number> {
    const result = await this.database.run(
      `DELETE FROM incident_actions WHERE NOT EXISTS (
         SELECT 1 FROM events WHERE events.incident_id = incident_actions.incident_id)`,
    );
    return result.changes;
  }
}

function toAction(row: ActionRow): IncidentAction {
  return {
    seq: row.seq,
    incidentId: row.incident_id,
    action: row.action,
    note: row.note,
    actor: row.actor,
    role: row.role,
    at: row.at,
  };
}
