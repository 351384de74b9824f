import type { Migration } from '@app/history';
import { webhookDeliveryId } from './delivery-id';

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
  {
    name: 'outbox/002-retry-budget-delivery-ids',
    up: (db) => {
      db.exec(`
        -- Deliveries are retried for a time budget counted from here: when the row was queued,
        -- or replayed from the dead letters (created_at keeps when it was first queued).
        ALTER TABLE webhook_outbox ADD COLUMN retry_from INTEGER NOT NULL DEFAULT 0;
        UPDATE webhook_outbox SET retry_from = created_at;
        -- When the attempt counted in attempts started; it is written before the request leaves,
        -- so a crash mid-request still counts it.
        ALTER TABLE webhook_outbox ADD COLUMN last_attempt_at INTEGER;
        ALTER TABLE webhook_outbox ADD COLUMN delivery_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE webhook_dead ADD COLUMN delivery_id TEXT NOT NULL DEFAULT '';
        -- Each delivery waits on its own clock: the dispatcher asks for the rows that are due.
        DROP INDEX webhook_outbox_head;
        CREATE INDEX webhook_outbox_due
          ON webhook_outbox (subscription_id, next_attempt_at, event_seq, id);
      `);
      for (const table of ['webhook_outbox', 'webhook_dead']) {
        const rows = db
          .prepare<[], { id: number; subscription_id: string; event_id: string }>(
            `SELECT id, subscription_id, event_id FROM ${table}`,
          )
          .all();
        const set = db.prepare<[string, number]>(
          `UPDATE ${table} SET delivery_id = ? WHERE id = ?`,
        );
        for (const row of rows)
          set.run(webhookDeliveryId(row.subscription_id, row.event_id), row.id);
      }
      db.exec('CREATE UNIQUE INDEX webhook_dead_delivery ON webhook_dead (delivery_id)');
    },
  },
];
