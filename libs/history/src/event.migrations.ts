import type { Migration } from './history.database';

/**
 * The event history schema. Append only: a shipped migration is never edited, a change is a
 * new entry at the end.
 */
export const EVENT_MIGRATIONS: readonly Migration[] = [
  {
    name: 'events/001-create',
    up: `
      -- AUTOINCREMENT: a seq is never reused, even after retention deleted the newest rows, so
      -- a client resuming from an old cursor cannot be handed a different event under it.
      CREATE TABLE events (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT    NOT NULL UNIQUE,
        stream_id      TEXT    NOT NULL,
        rule           TEXT    NOT NULL,
        title          TEXT    NOT NULL,
        severity       TEXT    NOT NULL,
        -- the rank, not the name, so "medium and above" is a range scan
        severity_rank  INTEGER NOT NULL,
        trigger_cls    TEXT    NOT NULL,
        start_sec      REAL    NOT NULL,
        end_sec        REAL    NOT NULL,
        occurred_at    INTEGER NOT NULL,
        stored_at      INTEGER NOT NULL,
        evidence       TEXT    NOT NULL CHECK (json_valid(evidence)),
        stream_labels  TEXT             CHECK (stream_labels IS NULL OR json_valid(stream_labels)),
        evidence_refs  TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(evidence_refs))
      );
      CREATE INDEX events_stream_seq ON events (stream_id, seq);
      CREATE INDEX events_occurred_seq ON events (occurred_at, seq);
      CREATE INDEX events_severity_seq ON events (severity_rank, seq);

      -- The trigger and every evidence class, one row each: the class filter becomes an index
      -- lookup instead of parsing every row's evidence JSON.
      CREATE TABLE event_classes (
        cls  TEXT    NOT NULL,
        seq  INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
        PRIMARY KEY (cls, seq)
      ) WITHOUT ROWID;
      -- for the cascade when retention deletes events
      CREATE INDEX event_classes_seq ON event_classes (seq);
    `,
  },
  {
    name: 'events/002-incident-versions',
    up: `
      -- Each row is one version of an incident. Rows from before the lifecycle were single
      -- opened incidents: their own id is the incident's.
      ALTER TABLE events ADD COLUMN incident_id TEXT;
      ALTER TABLE events ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE events ADD COLUMN state TEXT NOT NULL DEFAULT 'opened';
      ALTER TABLE events ADD COLUMN triggers TEXT CHECK (triggers IS NULL OR json_valid(triggers));
      UPDATE events SET incident_id = id WHERE incident_id IS NULL;
      CREATE INDEX events_incident_version ON events (incident_id, version);
    `,
  },
  {
    name: 'events/003-sites',
    up: `
      -- Site fusion: a site rule's incident names its site, zone and cameras; a camera's
      -- incident names its site, and the site incident that took it in (absorbed_by). Stored
      -- to be returned as they were decided; nothing filters on them yet.
      ALTER TABLE events ADD COLUMN site TEXT;
      ALTER TABLE events ADD COLUMN zone TEXT;
      ALTER TABLE events ADD COLUMN cameras TEXT CHECK (cameras IS NULL OR json_valid(cameras));
      ALTER TABLE events ADD COLUMN absorbed_by TEXT;
      -- A stream filter also finds the site incidents naming the stream among their cameras.
      CREATE INDEX events_site_incidents ON events (seq) WHERE cameras IS NOT NULL;
    `,
  },
];
