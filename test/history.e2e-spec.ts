import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EVENT_MIGRATIONS,
  EventRepository,
  HistoryDatabase,
  SqliteSqlDatabase,
} from '@app/history';

/**
 * The history file is shared by separate processes (fusion replicas, `vigil serve`, a CLI
 * reading it): several open it at once, bring the schema up to date at the same moment and
 * write the same replayed events. WAL and the busy timeout must turn that into waiting, never
 * into SQLITE_BUSY, a duplicate row or a migration applied twice.
 */
const ROOT = join(__dirname, '..');
const WRITERS = 3;
const EVENTS = 150;

/** Each writer saves the same ids 1..EVENTS (replays of one another) and a few of its own. */
const WRITER = `
const { EventRepository, HistoryDatabase, SqliteSqlDatabase } = require(${JSON.stringify(join(ROOT, 'libs/history/src'))});
const [path, writer, count] = process.argv.slice(2);
const event = (id) => ({
  id, incidentId: id, version: 1, state: 'opened',
  streamId: 'cam-' + writer, rule: 'intrusion', title: 'Intrusion', severity: 'high',
  startSec: 0, endSec: 1, trigger: 'glass_break', triggers: ['glass_break'],
  evidence: [{ cls: 'glass_break', modality: 'audio', score: 0.9, atSec: 0 }],
});
(async () => {
  const db = new SqliteSqlDatabase(new HistoryDatabase({ path, busyTimeoutMs: 20000 }), true);
  const repo = await EventRepository.open(db);
  let inserted = 0;
  for (let i = 1; i <= Number(count); i++) {
    if ((await repo.save(event('shared-' + i))).inserted) inserted++;
    if (i % 10 === 0) await repo.save(event('own-' + writer + '-' + i));
  }
  await db.close();
  process.stdout.write(JSON.stringify({ inserted }));
})().catch((error) => {
  process.stderr.write(String(error && error.stack));
  process.exit(1);
});
`;

function runWriter(script: string, path: string, writer: number): Promise<{ inserted: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        script,
        path,
        String(writer),
        String(EVENTS),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as { inserted: number })
        : reject(new Error(`writer ${writer} exited ${code}: ${err}`)),
    );
  });
}

describe('history file shared by processes', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-history-e2e-'));
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates once and stores each replayed event once under concurrent writers', async () => {
    const path = join(dir, 'history.db');
    const script = join(dir, 'writer.js');
    writeFileSync(script, WRITER);

    const results = await Promise.all(
      Array.from({ length: WRITERS }, (_, w) => runWriter(script, path, w + 1)),
    );

    // every shared id was inserted by exactly one writer
    expect(results.reduce((sum, r) => sum + r.inserted, 0)).toBe(EVENTS);

    const db = new HistoryDatabase({ path });
    try {
      const repo = await EventRepository.open(new SqliteSqlDatabase(db));
      expect(db.journalMode).toBe('wal');
      expect(db.appliedMigrations().map((m) => m.name)).toEqual(
        EVENT_MIGRATIONS.map((m) => m.name),
      );
      const own = WRITERS * (EVENTS / 10);
      expect(await repo.count()).toBe(EVENTS + own);

      const all = await repo.after(0, {}, 500);
      expect(all).toHaveLength(EVENTS + own);
      const seqs = all.map((e) => e.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(new Set(all.map((e) => e.event.id)).size).toBe(all.length);
    } finally {
      db.close();
    }
  }, 120_000);
});
