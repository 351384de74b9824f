import type { Migration } from '@app/history';

/**
 * The webhook outbox, in the event history's SQLite file so that storing an event and queueing
 * its deliveries commit together. Append only: a shipped migration is never edited.
 */
export const OUTBOX_MIGRATIONS: readonly Migration[] = [
  {
    name: 'outbox/001-create',
    up: `
      -- One row per (subscription, event) still to deliver. No foreign key to events: retention
      -- may sweep an event whose delivery is still pending, and the body here is all a
      -- delivery needs. AUTOINCREMENT so a dead row can keep its id without ever colliding.
      CREATE TABLE webhook_outbox (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id  TEXT    NOT NULL,
        event_id         TEXT    NOT NULL,
        event_seq        INTEGER NOT NULL,
        -- the exact bytes signed and posted on every attempt
        body             TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  INTEGER NOT NULL,
        last_error       TEXT,
        last_status      INTEGER,
        UNIQUE (subscription_id, event_id)
      );
      -- the head of one subscriber's queue is one index probe, however long the backlog
      CREATE INDEX webhook_outbox_head ON webhook_outbox (subscription_id, event_seq, id);

      -- Deliveries given up on, kept for inspection and replay by hand.
      CREATE TABLE webhook_dead (
        id               INTEGER PRIMARY KEY,
        subscription_id  TEXT    NOT NULL,
        -- redacted: no userinfo, query or fragment
        url              TEXT    NOT NULL,
        event_id         TEXT    NOT NULL,
        event_seq        INTEGER NOT NULL,
        body             TEXT    NOT NULL,
        created_at       INTEGER NOT NULL,
        attempts         INTEGER NOT NULL,
        reason           TEXT    NOT NULL,
        last_status      INTEGER,
        failed_at        INTEGER NOT NULL,
        -- when the bus accepted the dead letter; NULL until then, so a crash or a bus outage
        -- between giving up and publishing is published again on the next start
        published_at     INTEGER,
        UNIQUE (subscription_id, event_id)
      );
      CREATE INDEX webhook_dead_unpublished ON webhook_dead (id) WHERE published_at IS NULL;
    `,
  },
];
