import type { Statement } from 'better-sqlite3';
import { AsyncMutex } from './async.mutex';
import type { HistoryDatabase } from './history.database';
import type {
  SqlDatabase,
  SqlDialect,
  SqlExecutor,
  SqlMigration,
  SqlRunResult,
  SqlValue,
} from './sql.port';

export const SQLITE_DIALECT: SqlDialect = {
  name: 'sqlite',
  // The list travels as one JSON parameter, so the statement text (and its prepared form)
  // does not depend on the list's length.
  inList: (column) => `${column} IN (SELECT value FROM json_each(?))`,
  listParam: (values) => JSON.stringify(values),
  jsonArrayHasAny: (column) =>
    `EXISTS (SELECT 1 FROM json_each(${column}) WHERE value IN (SELECT value FROM json_each(?)))`,
  latestIdSql: (table) => `SELECT seq AS id FROM sqlite_sequence WHERE name = '${table}'`,
  // The whole file is locked by BEGIN IMMEDIATE already.
  forUpdate: '',
};

/**
 * The SQL port over the history's SQLite file (better-sqlite3, synchronous underneath). It
 * shares the HistoryDatabase's connection, so repositories still on that class see the same
 * data, ':memory:' included. One connection means one transaction at a time: transactions and
 * lone statements queue on a mutex, so a statement never lands inside another caller's
 * transaction between its awaits.
 */
export class SqliteSqlDatabase implements SqlDatabase {
  readonly dialect = SQLITE_DIALECT;
  private readonly statements = new Map<string, Statement<SqlValue[], unknown>>();
  private readonly mutex = new AsyncMutex();
  private readonly direct: SqlExecutor;

  constructor(
    readonly history: HistoryDatabase,
    /** Whether close() closes the file too; false when its owner closes it. */
    private readonly ownsFile = false,
  ) {
    this.direct = {
      all: async <T>(sql: string, params: readonly SqlValue[] = []) =>
        this.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: readonly SqlValue[] = []) =>
        this.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: readonly SqlValue[] = []): Promise<SqlRunResult> => {
        const statement = this.prepare(sql);
        // RETURNING makes an INSERT a reader; run() would throw on it.
        if (statement.reader) return { changes: statement.all(...params).length };
        return { changes: statement.run(...params).changes };
      },
    };
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.mutex.run(() => this.direct.all<T>(sql, params));
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.mutex.run(() => this.direct.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<SqlRunResult> {
    return this.mutex.run(() => this.direct.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      const db = this.history.connection;
      // IMMEDIATE: the write lock up front, so two processes doing read-then-write on the
      // file cannot both read and then deadlock upgrading.
      db.exec('BEGIN IMMEDIATE');
      this.history.asyncTransactionOpen = true;
      try {
        const result = await fn(this.direct);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      } finally {
        this.history.asyncTransactionOpen = false;
      }
    });
  }

  migrate(list: readonly SqlMigration[]): Promise<string[]> {
    return this.mutex.run(async () =>
      this.history.migrate(list.map((m) => ({ name: m.name, up: m.sqlite }))),
    );
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      this.statements.clear();
      if (this.ownsFile) this.history.close();
    });
  }

  private prepare(sql: string): Statement<SqlValue[], unknown> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.history.connection.prepare<SqlValue[], unknown>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
