import { Pool, types, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import {
  assertAppendOnly,
  checkMigrationList,
  type SqlDatabase,
  type SqlDialect,
  type SqlExecutor,
  type SqlMigration,
  type SqlRunResult,
  type SqlValue,
} from './sql.port';
import { SystemClock, type Clock } from './system.clock';

export const POSTGRES_DIALECT: SqlDialect = {
  name: 'postgres',
  inList: (column) => `${column} = ANY(?::text[])`,
  listParam: (values) => toTextArray(values),
  // A function, not the ?| operator: `?` is the placeholder here.
  jsonArrayHasAny: (column) => `jsonb_exists_any(${column}::jsonb, ?::text[])`,
  // The identity's sequence: it never goes back when rows are deleted, as SQLite's
  // AUTOINCREMENT does not.
  latestIdSql: (table, column) =>
    `SELECT coalesce(last_value, 0) AS id
     FROM pg_sequences
     WHERE schemaname || '.' || sequencename =
       pg_get_serial_sequence('${table}', '${column}')`,
  forUpdate: ' FOR UPDATE',
  transactionLockSql: 'SELECT pg_advisory_xact_lock(hashtext(?))',
};

/** Fixed key of the advisory lock held while migrating: one replica migrates, the others wait. */
const MIGRATION_LOCK_KEY = 0x76_69_67_69_6c; // "vigil"

/** int8 (ids, ms timestamps) as numbers: they stay far below 2^53. */
const INT8_OID = 20;
const parseTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
};

export interface PostgresSqlDatabaseOptions {
  /** postgres:// or postgresql:// URL. */
  url: string;
  /** Connections kept at most; default 10. */
  maxConnections?: number;
  /** Schema to work in (search_path); default the server's ("public"). */
  schema?: string;
  clock?: Clock;
}

/**
 * The SQL port over PostgreSQL (node-postgres pool), for replicas that share one history.
 * Lone statements take any pooled connection; a transaction holds one for its duration.
 */
export class PostgresSqlDatabase implements SqlDatabase {
  readonly dialect = POSTGRES_DIALECT;
  private readonly pool: Pool;
  private readonly clock: Clock;
  private closed = false;

  constructor(options: PostgresSqlDatabaseOptions) {
    const config: PoolConfig = {
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      types: parseTypes,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    };
    this.pool = new Pool(config);
    // An idle connection the server dropped: the pool replaces it; without a listener the
    // process would crash on the 'error' event.
    this.pool.on('error', () => undefined);
    this.clock = options.clock ?? new SystemClock();
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return executorOf(this.pool).all<T>(sql, params);
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return executorOf(this.pool).get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult> {
    return executorOf(this.pool).run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(executorOf(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
        throw error;
      }
    } finally {
      // A connection whose rollback failed is in an unknown state: dropped, not reused.
      client.release(broken);
    }
  }

  async migrate(list: readonly SqlMigration[]): Promise<string[]> {
    checkMigrationList(list);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      // Session lock, taken before even creating the table: replicas starting together queue
      // here, and each then sees what the one before it applied.
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        await client.query(
          `CREATE TABLE IF NOT EXISTS migrations (
             name        TEXT   PRIMARY KEY,
             applied_at  BIGINT NOT NULL,
             position    BIGINT GENERATED ALWAYS AS IDENTITY
           )`,
        );
        const { rows } = await client.query<{ name: string }>('SELECT name FROM migrations');
        const applied = new Set(rows.map((row) => row.name));
        assertAppendOnly(list, (name) => applied.has(name));
        const ran: string[] = [];
        for (const migration of list) {
          if (applied.has(migration.name)) continue;
          await client.query('BEGIN');
          try {
            await client.query(migration.postgres);
            await client.query('INSERT INTO migrations (name, applied_at) VALUES ($1, $2)', [
              migration.name,
              this.clock.now(),
            ]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
            throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, {
              cause: error,
            });
          }
          ran.push(migration.name);
        }
        return ran;
      } finally {
        if (!broken) {
          await client
            .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
            .catch((error: Error) => (broken = error));
        }
      }
    } finally {
      client.release(broken);
    }
  }

  /** Names and times of every migration applied to this database, oldest first. */
  async appliedMigrations(): Promise<{ name: string; appliedAt: number }[]> {
    return this.all('SELECT name, applied_at AS "appliedAt" FROM migrations ORDER BY position');
  }

  /** Idempotent, so shutdown hooks may call it more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

interface Queryable {
  query<R extends QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

function executorOf(target: Pool | PoolClient): SqlExecutor {
  const db = target as unknown as Queryable;
  return {
    all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      (await db.query<QueryResultRow>(numbered(sql), [...params])).rows as T[],
    get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      (await db.query<QueryResultRow>(numbered(sql), [...params])).rows[0] as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) => ({
      changes: (await db.query(numbered(sql), [...params])).rowCount ?? 0,
    }),
  };
}

const numberedCache = new Map<string, string>();

/**
 * `?` placeholders as PostgreSQL's `$1, $2, …`, outside quoted text and identifiers, so a
 * repository's statements are written once for both dialects.
 */
export function numbered(sql: string): string {
  const cached = numberedCache.get(sql);
  if (cached !== undefined) return cached;
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '?') {
      n += 1;
      out += `$${n}`;
      continue;
    }
    out += ch;
  }
  if (numberedCache.size < 1000) numberedCache.set(sql, out);
  return out;
}

/** A text[] literal: every element quoted, so commas, braces and quotes in values are data. */
function toTextArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}
