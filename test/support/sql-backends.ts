import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import {
  HistoryDatabase,
  PostgresSqlDatabase,
  SqliteSqlDatabase,
  type Clock,
  type SqlDatabase,
  type SqlDialectName,
} from '@app/history';

/**
 * The two history backends, for suites that must pass on both (describe.each). SQLite is a
 * private ':memory:' file per open(); PostgreSQL is the throw-away cluster jest's global setup
 * started (scripts/postgres.sh), with a schema of its own per open(), dropped by dispose(), so
 * suites and tests never see each other's rows.
 */
export interface SqlBackend {
  readonly name: SqlDialectName;
  open(options?: { clock?: Clock; schema?: string }): Promise<OpenBackend>;
}

export interface OpenBackend {
  readonly db: SqlDatabase;
  /** A second connection (pool) to the same data: another replica. SQLite has no such thing. */
  replica(options?: { clock?: Clock }): Promise<SqlDatabase>;
  dispose(): Promise<void>;
}

const sqlite: SqlBackend = {
  name: 'sqlite',
  async open(options = {}) {
    const history = new HistoryDatabase({ path: ':memory:', ...options });
    const db = new SqliteSqlDatabase(history, true);
    return {
      db,
      replica: () => Promise.reject(new Error('a :memory: SQLite database has no replica')),
      dispose: () => db.close(),
    };
  },
};

/** Where the tests' PostgreSQL is; undefined when none was started (see testDatabaseUrl). */
export function testDatabaseUrl(): string | undefined {
  return process.env.VIGIL_TEST_DATABASE_URL || undefined;
}

const postgres: SqlBackend = {
  name: 'postgres',
  async open(options = {}) {
    const url = testDatabaseUrl();
    if (!url) throw new Error('VIGIL_TEST_DATABASE_URL is not set (jest global setup sets it)');
    const schema = options.schema ?? `t_${process.pid}_${randomBytes(6).toString('hex')}`;
    const admin = new Pool({ connectionString: url, max: 1 });
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } finally {
      await admin.end();
    }
    const opened: SqlDatabase[] = [];
    const connect = (clock?: Clock) => {
      const db = new PostgresSqlDatabase({ url, schema, ...(clock ? { clock } : {}) });
      opened.push(db);
      return db;
    };
    return {
      db: connect(options.clock),
      replica: async (replica = {}) => connect(replica.clock),
      async dispose() {
        await Promise.all(opened.map((db) => db.close()));
        const cleanup = new Pool({ connectionString: url, max: 1 });
        try {
          await cleanup.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await cleanup.end();
        }
      },
    };
  },
};

/**
 * The backends to run a suite on: both, or SQLite alone where no PostgreSQL was started
 * outside CI (a developer without Debian's postgresql). In CI a missing PostgreSQL fails.
 */
export function sqlBackends(): SqlBackend[] {
  if (testDatabaseUrl()) return [sqlite, postgres];
  if (process.env.CI === 'true' || process.env.VIGIL_REQUIRE_POSTGRES === '1') {
    throw new Error('PostgreSQL is required here but VIGIL_TEST_DATABASE_URL is not set');
  }
  return [sqlite];
}

export function postgresBackend(): SqlBackend | undefined {
  return sqlBackends().find((backend) => backend.name === 'postgres');
}

/**
 * A PostgreSQL database URL of its own for a whole process under test (an IncidentDesk, a
 * `vigil serve`): a fresh schema, chosen through the URL's `options` (search_path), dropped by
 * dispose(). Undefined where no PostgreSQL was started.
 */
export async function postgresSchemaUrl(): Promise<
  { url: string; dispose(): Promise<void> } | undefined
> {
  const base = testDatabaseUrl();
  if (!base || !postgresBackend()) return undefined;
  const schema = `t_${process.pid}_${randomBytes(6).toString('hex')}`;
  const admin = new Pool({ connectionString: base, max: 1 });
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async dispose() {
      const cleanup = new Pool({ connectionString: base, max: 1 });
      try {
        await cleanup.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await cleanup.end();
      }
    },
  };
}
