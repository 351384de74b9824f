import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { assertAppendOnly, checkMigrationList, type SqlMigration } from './sql.port';
import { SystemClock, type Clock } from './system.clock';

export type SqliteConnection = Database.Database;

/**
 * One schema step. Names are recorded in the `migrations` table, so they must never change
 * once shipped; prefix them with the owner (`events/001-…`, `outbox/001-…`) so repositories
 * that share the file cannot collide.
 */
export interface Migration {
  readonly name: string;
  readonly up: string | ((connection: SqliteConnection) => void);
}

export interface HistoryDatabaseOptions {
  /** A file path (its folder is created), or ':memory:' for a private throw-away database. */
  path: string;
  /** How long a writer waits for another process's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /**
   * FULL survives power loss with the last commit intact; NORMAL (still crash-safe in WAL mode)
   * may lose the last commits on power loss but fsyncs less. FULL by default because the
   * webhook outbox relies on a commit meaning "will be delivered".
   */
  synchronous?: 'full' | 'normal';
  clock?: Clock;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * The SQLite file shared by every history repository. Each repository brings its own
 * migrations and applies them through `migrate()`, so a later table (the webhook outbox) is
 * added without touching this class or the event schema.
 */
export class HistoryDatabase {
  readonly path: string;
  private readonly db: SqliteConnection;
  private readonly clock: Clock;
  /**
   * Set while the async SQL port (SqliteSqlDatabase) holds a transaction open on this
   * connection: a synchronous transaction started meanwhile would become part of it, and be
   * rolled back with it, so it is refused instead (its caller retries: the recorder's bus does).
   */
  asyncTransactionOpen = false;

  constructor(options: HistoryDatabaseOptions) {
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a whole number ≥ 0, got ${busyTimeoutMs}`);
    }
    this.path = options.path;
    this.clock = options.clock ?? new SystemClock();
    if (!isMemory(options.path)) mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: busyTimeoutMs });
    try {
      // WAL lets readers (ListEvents, a resuming Subscribe) run while fusion writes.
      // ':memory:' cannot use WAL and stays in 'memory' mode, which is fine for tests.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      // Off by default in SQLite; repositories rely on ON DELETE CASCADE for side tables.
      this.db.pragma('foreign_keys = ON');
      // A rowid table: its rowid keeps the order migrations were applied in.
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS migrations (
           name TEXT PRIMARY KEY,
           applied_at INTEGER NOT NULL
         )`,
      );
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** The raw connection, for repositories to prepare their statements on. */
  get connection(): SqliteConnection {
    if (!this.db.open) throw new Error(`history database ${this.path} is closed`);
    return this.db;
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  get journalMode(): string {
    return String(this.connection.pragma('journal_mode', { simple: true }));
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction: the write lock is taken up front, so two processes
   * doing read-then-write cannot both read and then deadlock upgrading.
   */
  transaction<T>(fn: () => T): T {
    if (this.asyncTransactionOpen) {
      throw new Error(
        `history database ${this.path} is in another transaction; try again once it commits`,
      );
    }
    return this.connection.transaction(fn).immediate();
  }

  /**
   * Applies, in order, the migrations of `list` not yet recorded, each in its own transaction
   * with its record, so a crash leaves either both or neither. Safe to call on every start and
   * from several processes at once. Returns the names applied by this call.
   */
  migrate(list: readonly (Migration | SqlMigration)[]): string[] {
    checkMigrationList(list);
    const isApplied = this.connection.prepare<[string], unknown>(
      'SELECT 1 FROM migrations WHERE name = ?',
    );
    const record = this.connection.prepare<[string, number]>(
      'INSERT INTO migrations (name, applied_at) VALUES (?, ?)',
    );
    assertAppendOnly(list, (name) => isApplied.get(name) !== undefined);

    const applied: string[] = [];
    for (const migration of list) {
      const ran = this.transaction(() => {
        // Checked again inside the lock: another process may have applied it meanwhile.
        if (isApplied.get(migration.name) !== undefined) return false;
        const up = 'sqlite' in migration ? migration.sqlite : migration.up;
        if (typeof up === 'string') this.connection.exec(up);
        else up(this.connection);
        record.run(migration.name, this.clock.now());
        return true;
      });
      if (ran) applied.push(migration.name);
    }
    return applied;
  }

  /** Names and times of every migration applied to this file, oldest first. */
  appliedMigrations(): { name: string; appliedAt: number }[] {
    return this.connection
      .prepare<[], { name: string; appliedAt: number }>(
        'SELECT name, applied_at AS appliedAt FROM migrations ORDER BY rowid',
      )
      .all();
  }

  /** Idempotent, so shutdown hooks may call it more than once. */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

function isMemory(path: string): boolean {
  return path === ':memory:' || path === '';
}
