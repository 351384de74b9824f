import type { Statement } from 'better-sqlite3';
import type { HistoryDatabase } from './history.database';
import { HistoryError } from './history.error';
import { INCIDENT_ACTION_MIGRATIONS } from './incident-action.migrations';
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
 * What operators did about incidents, in the history file beside the events. An incident is
 * acknowledged at most once and resolved or called a false alarm once, after which it takes
 * no more actions: the trail reads as one story, and two consoles racing get one winner.
 */
export class IncidentActionRepository {
  private readonly insert: Statement<[string, string, string, string, string, number]>;
  private readonly selectForIncident: Statement<[string], ActionRow>;
  private readonly selectIncidentExists: Statement<[string], { one: number }>;
  private readonly selectAfter: Statement<[number, number], ActionRow>;
  private readonly selectLatestSeq: Statement<[], { seq: number }>;
  private readonly deleteOrphans: Statement<[]>;

  constructor(
    private readonly database: HistoryDatabase,
    private readonly clock: Clock = new SystemClock(),
  ) {
    database.migrate(INCIDENT_ACTION_MIGRATIONS);
    const db = database.connection;
    this.insert = db.prepare(
      'INSERT INTO incident_actions (incident_id, action, note, actor, role, at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.selectForIncident = db.prepare(
      `SELECT ${COLUMNS} FROM incident_actions WHERE incident_id = ? ORDER BY seq`,
    );
    this.selectIncidentExists = db.prepare(
      'SELECT 1 AS one FROM events WHERE incident_id = ? LIMIT 1',
    );
    this.selectAfter = db.prepare(
      `SELECT ${COLUMNS} FROM incident_actions WHERE seq > ? ORDER BY seq LIMIT ?`,
    );
    this.selectLatestSeq = db.prepare(
      "SELECT seq FROM sqlite_sequence WHERE name = 'incident_actions'",
    );
    this.deleteOrphans = db.prepare(
      'DELETE FROM incident_actions WHERE incident_id NOT IN (SELECT incident_id FROM events)',
    );
  }

  /**
   * Records an action on a stored incident: NOT_FOUND for an unknown incident, `conflict` for
   * one already closed by an operator or acknowledged twice. Nothing is written when it throws.
   */
  record(input: NewIncidentAction): IncidentAction {
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
    return this.database.transaction(() => {
      if (!this.selectIncidentExists.get(input.incidentId)) {
        throw new HistoryError('not-found', 'incidentId', `no incident ${input.incidentId}`);
      }
      const trail = this.forIncident(input.incidentId);
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
      const result = this.insert.run(
        input.incidentId,
        input.action,
        note,
        input.actor,
        input.role,
        at,
      );
      return {
        seq: Number(result.lastInsertRowid),
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
  forIncident(incidentId: string): IncidentAction[] {
    return this.selectForIncident.all(incidentId).map(toAction);
  }

  /** Actions stored after `seq`, oldest first: a live console's catch-up after a reconnect. */
  after(seq: number, limit = MAX_AFTER): IncidentAction[] {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw new HistoryError('invalid-argument', 'seq', 'must be a whole number ≥ 0');
    }
    return this.selectAfter.all(seq, Math.min(Math.max(1, limit), MAX_AFTER)).map(toAction);
  }

  latestSeq(): number {
    return this.selectLatestSeq.get()?.seq ?? 0;
  }

  /** Retention: the trail goes with the incident's last event. Returns how many were removed. */
  sweep(): number {
    return this.database.transaction(() => this.deleteOrphans.run().changes);
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
