/**
 * The small async SQL surface the history repositories are written against, so one repository
 * serves both the embedded SQLite file and a PostgreSQL shared by replicas. Statements use `?`
 * placeholders on both (the PostgreSQL adapter numbers them); what differs between the two
 * dialects is kept to the few helpers of `SqlDialect`, and to the migrations, which carry the
 * DDL of each.
 */
export type SqlDialectName = 'sqlite' | 'postgres';

export type SqlValue = string | number | null;

export interface SqlRunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

export interface SqlExecutor {
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult>;
}

/** What SQL text differs between the dialects; everything else is written once. */
export interface SqlDialect {
  readonly name: SqlDialectName;
  /** `column IN (…list…)` with the whole list as one parameter (any length, one statement). */
  inList(column: string): string;
  /** The parameter `inList` expects for these values. */
  listParam(values: readonly string[]): SqlValue;
  /** The JSON array of strings in `column` holds any of the list (one `listParam` parameter). */
  jsonArrayHasAny(column: string): string;
  /**
   * The highest id ever taken from a table's generated key, 0 when none: stays put when
   * retention empties the table, so a live cursor never goes back.
   */
  latestIdSql(table: string, column: string): string;
  /** Appended to a SELECT that reads a row to rewrite it: a row lock where there are any. */
  readonly forUpdate: string;
  /**
   * A statement taking a lock named by its one parameter until the transaction ends, where
   * transactions can run side by side (PostgreSQL); undefined where one writer holds the whole
   * database already (SQLite's BEGIN IMMEDIATE).
   */
  readonly transactionLockSql?: string;
}

/**
 * Serialises the transactions that take the lock `name` (see SqlDialect.transactionLockSql):
 * a read-then-write decided under it cannot race another replica's, and ids drawn under it
 * commit in the order they were drawn.
 */
export async function lockInTransaction(
  dialect: SqlDialect,
  tx: SqlExecutor,
  name: string,
): Promise<void> {
  if (dialect.transactionLockSql) await tx.get(dialect.transactionLockSql, [name]);
}

/**
 * One schema step, in both dialects. Names are recorded in a `migrations` table per database
 * and must never change once shipped; prefix them with the owner (`events/…`, `actions/…`).
 * Append only: a change is a new entry at the end of its list, with the SQL of each dialect.
 */
export interface SqlMigration {
  readonly name: string;
  /** A script, or a step on the raw better-sqlite3 connection (a backfill computed in JS). */
  readonly sqlite: string | ((connection: import('better-sqlite3').Database) => void);
  readonly postgres: string;
}

export interface SqlDatabase extends SqlExecutor {
  readonly dialect: SqlDialect;
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it rejects. On
   * SQLite the write lock is taken up front (BEGIN IMMEDIATE); on PostgreSQL it is READ
   * COMMITTED on a connection of its own, so callers lock or use constraints where two
   * replicas could race.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Applies, in order, the migrations of `list` not yet recorded, each in a transaction with
   * its record. Safe from several processes at once; returns the names this call applied.
   */
  migrate(list: readonly SqlMigration[]): Promise<string[]>;
  close(): Promise<void>;
}

/** Checks a list before any of it runs: names set and unique. */
export function checkMigrationList(list: readonly { name: string }[]): void {
  const names = new Set<string>();
  for (const migration of list) {
    if (!migration.name.trim()) throw new Error('a migration needs a name');
    if (names.has(migration.name)) throw new Error(`migration ${migration.name} is listed twice`);
    names.add(migration.name);
  }
}

/**
 * A migration slipped in before one that already ran would run after it, on a schema its
 * author never saw: refuse instead of guessing.
 */
export function assertAppendOnly(
  list: readonly { name: string }[],
  isApplied: (name: string) => boolean,
): void {
  let pending: string | undefined;
  for (const migration of list) {
    if (!isApplied(migration.name)) pending ??= migration.name;
    else if (pending) {
      throw new Error(
        `migration ${pending} is not applied but the later ${migration.name} is: ` +
          'migrations are append-only, add new ones at the end of the list',
      );
    }
  }
}
