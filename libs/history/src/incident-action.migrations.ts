import type { Migration } from './history.database';

/**
 * The operators' audit trail of incidents (acknowledge, resolve, false alarm). Its own list,
 * prefixed `actions/`, applied by IncidentActionRepository; append only like the others.
 */
export const INCIDENT_ACTION_MIGRATIONS: readonly Migration[] = [
  {
    name: 'actions/001-create',
    up: `
      -- One row per operator action, never updated or deleted except by retention (with the
      -- incident's last event): the row is the audit record of who did what, and when.
      -- No foreign key: an incident is a set of event rows (its versions), not one row.
      CREATE TABLE incident_actions (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id  TEXT    NOT NULL,
        action       TEXT    NOT NULL CHECK (action IN ('acknowledge', 'resolve', 'false_alarm')),
        note         TEXT    NOT NULL DEFAULT '',
        actor        TEXT    NOT NULL,
        role         TEXT    NOT NULL,
        at           INTEGER NOT NULL
      );
      CREATE INDEX incident_actions_incident_seq ON incident_actions (incident_id, seq);
    `,
  },
  {
    name: 'actions/002-stream-suppressions',
    up: `
      -- "False alarm" feedback: a class ignored on one stream until a time, undone by lifting
      -- it. Rows stay after they expire or are lifted, as part of the audit trail.
      CREATE TABLE stream_suppressions (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id    TEXT    NOT NULL,
        cls          TEXT    NOT NULL,
        until_ms     INTEGER NOT NULL,
        incident_id  TEXT    NOT NULL,
        created_by   TEXT    NOT NULL,
        created_at   INTEGER NOT NULL,
        lifted_by    TEXT,
        lifted_at    INTEGER
      );
      CREATE INDEX stream_suppressions_until ON stream_suppressions (until_ms);
    `,
  },
];
