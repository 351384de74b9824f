import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../test/fake.clock';
import { makeIncident as makeEvent } from '@app/testing/incident.factory';
import { EventRepository } from './event.repository';
import { HistoryDatabase, type Migration } from './history.database';
import { SqliteSqlDatabase } from './sqlite.sql-database';

describe('HistoryDatabase', () => {
  let dir: string;
  const open: HistoryDatabase[] = [];
  const openDb = (path: string, clock = new FakeClock()) => {
    const db = new HistoryDatabase({ path, clock });
    open.push(db);
    return db;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-history-'));
  });

  afterEach(() => {
    for (const db of open.splice(0)) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts a file database in WAL mode and creates its folder', () => {
    const db = openDb(join(dir, 'nested', 'deeper', 'history.db'));
    expect(db.journalMode).toBe('wal');
    expect(existsSync(join(dir, 'nested', 'deeper', 'history.db'))).toBe(true);
    expect(db.connection.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it("keeps ':memory:' in memory mode, which cannot be WAL", () => {
    expect(openDb(':memory:').journalMode).toBe('memory');
  });

  it('runs each migration once and records it with the clock time', () => {
    const clock = new FakeClock(1_000);
    const db = openDb(':memory:', clock);
    const up = jest.fn((connection: HistoryDatabase['connection']) =>
      connection.exec('CREATE TABLE b (x)'),
    );
    const list: Migration[] = [
      { name: 'test/001-a', up: 'CREATE TABLE a (x)' },
      { name: 'test/002-b', up },
    ];

    expect(db.migrate(list)).toEqual(['test/001-a', 'test/002-b']);
    clock.advance(5);
    expect(db.migrate(list)).toEqual([]);

    expect(up).toHaveBeenCalledTimes(1);
    expect(db.appliedMigrations()).toEqual([
      { name: 'test/001-a', appliedAt: 1_000 },
      { name: 'test/002-b', appliedAt: 1_000 },
    ]);
  });

  it("lets another repository add its own table later, beside the events'", async () => {
    const db = openDb(':memory:');
    await EventRepository.open(new SqliteSqlDatabase(db), new FakeClock());
    const outbox: Migration[] = [
      { name: 'outbox/001-create', up: 'CREATE TABLE outbox (id INTEGER PRIMARY KEY, body TEXT)' },
    ];

    expect(db.migrate(outbox)).toEqual(['outbox/001-create']);
    expect(db.appliedMigrations().map((m) => m.name)).toEqual([
      'events/001-create',
      'events/002-incident-versions',
      'events/003-sites',
      'events/004-site-filters',
      'outbox/001-create',
    ]);
    db.connection.prepare('INSERT INTO outbox (body) VALUES (?)').run('x');
  });

  it('applies a migration appended to a list that already ran', () => {
    const db = openDb(':memory:');
    const first: Migration = { name: 'test/001', up: 'CREATE TABLE a (x)' };
    db.migrate([first]);
    expect(db.migrate([first, { name: 'test/002', up: 'ALTER TABLE a ADD COLUMN y' }])).toEqual([
      'test/002',
    ]);
  });

  it('refuses a migration slipped in before one that already ran', () => {
    const db = openDb(':memory:');
    db.migrate([{ name: 'test/002', up: 'CREATE TABLE b (x)' }]);
    expect(() =>
      db.migrate([
        { name: 'test/001', up: 'CREATE TABLE a (x)' },
        { name: 'test/002', up: 'CREATE TABLE b (x)' },
      ]),
    ).toThrow(/test\/001 is not applied but the later test\/002 is/);
    expect(db.appliedMigrations().map((m) => m.name)).toEqual(['test/002']);
  });

  it('refuses a list naming a migration twice', () => {
    const db = openDb(':memory:');
    expect(() =>
      db.migrate([
        { name: 'test/001', up: 'CREATE TABLE a (x)' },
        { name: 'test/001', up: 'CREATE TABLE b (x)' },
      ]),
    ).toThrow(/listed twice/);
  });

  it('rolls a failed migration back with its record, so a fixed one runs next time', () => {
    const db = openDb(':memory:');
    const broken: Migration = {
      name: 'test/001',
      up: 'CREATE TABLE a (x); THIS IS NOT SQL',
    };
    expect(() => db.migrate([broken])).toThrow();
    expect(db.appliedMigrations()).toEqual([]);
    expect(
      db.connection.prepare("SELECT name FROM sqlite_master WHERE name = 'a'").get(),
    ).toBeUndefined();

    expect(db.migrate([{ name: 'test/001', up: 'CREATE TABLE a (x)' }])).toEqual(['test/001']);
  });

  it('keeps events and migrations when a file database is reopened', async () => {
    const path = join(dir, 'history.db');
    const clock = new FakeClock();
    const first = openDb(path, clock);
    const saved = await (
      await EventRepository.open(new SqliteSqlDatabase(first), clock)
    ).save(makeEvent(1), {
      occurredAt: 42,
      streamLabels: { site: 'HQ', camera: 'Lobby' },
    });
    first.close();

    const second = openDb(path, clock);
    const events = await EventRepository.open(new SqliteSqlDatabase(second), clock);
    expect(second.migrate([])).toEqual([]);
    expect(second.appliedMigrations().map((m) => m.name)).toEqual([
      'events/001-create',
      'events/002-incident-versions',
      'events/003-sites',
      'events/004-site-filters',
    ]);
    expect(await events.get(makeEvent(1).id)).toMatchObject({
      seq: saved.seq,
      event: makeEvent(1),
      occurredAt: 42,
      streamLabels: { site: 'HQ', camera: 'Lobby' },
    });
    expect((await events.save(makeEvent(2))).seq).toBe(saved.seq + 1);
  });

  it('sees what another connection to the same file committed', async () => {
    const path = join(dir, 'history.db');
    const writer = await EventRepository.open(new SqliteSqlDatabase(openDb(path)));
    const reader = await EventRepository.open(new SqliteSqlDatabase(openDb(path)));
    await writer.save(makeEvent(1));
    expect((await reader.get(makeEvent(1).id))?.event.id).toBe(makeEvent(1).id);
  });

  it('refuses a synchronous transaction while the async port holds one open', async () => {
    const db = openDb(':memory:');
    const sql = new SqliteSqlDatabase(db);
    let inside: unknown;
    await sql.transaction(async () => {
      try {
        db.transaction(() => undefined);
      } catch (error) {
        inside = error;
      }
    });
    expect(inside).toBeInstanceOf(Error);
    expect(db.transaction(() => 'after')).toBe('after');
  });

  it('closes once and then refuses to be used', () => {
    const db = openDb(':memory:');
    db.close();
    db.close();
    expect(db.isOpen).toBe(false);
    expect(() => db.connection).toThrow(/closed/);
  });

  it('refuses a negative busy timeout', () => {
    expect(() => new HistoryDatabase({ path: ':memory:', busyTimeoutMs: -1 })).toThrow(
      /busyTimeoutMs/,
    );
  });
});
