import { ConfigError } from './config.error';
import { loadDatabaseUrl, redactDatabaseUrl } from './database-url';

describe('VIGIL_DATABASE_URL', () => {
  it('is absent unless set, so the SQLite history stays the default', () => {
    expect(loadDatabaseUrl({})).toBeUndefined();
    expect(loadDatabaseUrl({ VIGIL_DATABASE_URL: '  ' })).toBeUndefined();
  });

  it('takes a postgres:// or postgresql:// URL naming a database', () => {
    for (const url of [
      'postgres://vigil:pw@db:5432/vigil',
      'postgresql://db/vigil?sslmode=require',
    ]) {
      expect(loadDatabaseUrl({ VIGIL_DATABASE_URL: url })).toBe(url);
    }
  });

  it('refuses anything else, naming the key', () => {
    for (const url of ['mysql://db/vigil', 'not a url', 'postgres://db', 'postgres://db/a/b']) {
      expect(() => loadDatabaseUrl({ VIGIL_DATABASE_URL: url })).toThrow(ConfigError);
      expect(() => loadDatabaseUrl({ VIGIL_DATABASE_URL: url })).toThrow(/VIGIL_DATABASE_URL/);
    }
  });

  it('never shows the password in what it reports', () => {
    expect(redactDatabaseUrl('postgres://vigil:s3cret@db:5432/vigil')).toBe(
      'postgres://vigil:***@db:5432/vigil',
    );
    expect(redactDatabaseUrl('postgres://db/vigil?password=s3cret&sslmode=require')).toBe(
      'postgres://db/vigil?password=***&sslmode=require',
    );
    expect(redactDatabaseUrl('postgres://db/vigil')).toBe('postgres://db/vigil');
    const bad = () => loadDatabaseUrl({ VIGIL_DATABASE_URL: 'mysql://vigil:s3cret@db/vigil' });
    expect(bad).not.toThrow(/s3cret/);
  });
});
