import { ConfigError } from './config.error';
import type { Env } from './env.parsers';

const KEY = 'VIGIL_DATABASE_URL';

/**
 * VIGIL_DATABASE_URL: where history, webhook outbox and operator actions live when replicas
 * share them (PostgreSQL). Unset means the embedded SQLite file, as before. Checked here once,
 * so a typo stops the process at start with the key named, not at the first write.
 */
export function loadDatabaseUrl(env: Env): string | undefined {
  const raw = env[KEY];
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(KEY, `is not a URL (expected postgres://user:password@host:5432/db)`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(
      KEY,
      `must be a postgres:// or postgresql:// URL, got ${url.protocol}//… ` +
        '(leave it unset for the embedded SQLite history)',
    );
  }
  if (!url.hostname) throw new ConfigError(KEY, 'names no host');
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new ConfigError(KEY, 'must name one database (postgres://…/<database>)');
  }
  return raw;
}

/** The URL with its password replaced, for logs and status lines. */
export function redactDatabaseUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    // Query parameters may carry a password too (?password=…, sslkey paths are harmless).
    for (const key of [...url.searchParams.keys()]) {
      if (/pass/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.toString();
  } catch {
    return '<unparseable database URL>';
  }
}
