import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvidenceErrorCode } from './evidence.error';
import { FolderEvidenceStore } from './evidence.store';

const EVENT = '0ccaf532-5309-5c58-ba9f-4800605d7069';
const MINUTE = 60_000;

let dir: string;
let root: string;
let clock: number;
const now = () => clock;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-evidence-store-'));
  root = join(dir, 'evidence');
  clock = Date.UTC(2026, 0, 1);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function bytes(n: number, fill = 7): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

describe('FolderEvidenceStore', () => {
  it('stores bytes with their content type and checksum under <event>/<name>', async () => {
    const store = new FolderEvidenceStore({ root, now });
    const data = new Uint8Array([1, 2, 3, 4]);
    const ref = await store.put(EVENT, 'snapshot.jpg', data, 'image/jpeg');
    expect(ref).toEqual({
      key: `${EVENT}/snapshot.jpg`,
      contentType: 'image/jpeg',
      bytes: 4,
      sha256: createHash('sha256').update(data).digest('hex'),
    });
    await expect(store.get(ref)).resolves.toEqual({ bytes: data, contentType: 'image/jpeg' });
    await expect(store.get(ref.key)).resolves.toEqual({ bytes: data, contentType: 'image/jpeg' });
    await expect(store.list(EVENT)).resolves.toEqual([ref]);
  });

  it('writes through a temporary file and a rename: no leftovers, readers keep the old version', async () => {
    const store = new FolderEvidenceStore({ root, now });
    await store.put(EVENT, 'audio.wav', bytes(1000, 1), 'audio/wav');
    const path = join(root, EVENT, 'audio.wav');
    const reader = openSync(path, 'r');
    try {
      await store.put(EVENT, 'audio.wav', bytes(10, 2), 'audio/wav');
      // An in-place rewrite would have truncated what the open reader sees.
      const seen = Buffer.alloc(1000);
      expect(readSync(reader, seen, 0, 1000, 0)).toBe(1000);
      expect(seen.every((b) => b === 1)).toBe(true);
    } finally {
      closeSync(reader);
    }
    expect((await store.get(`${EVENT}/audio.wav`)).bytes).toEqual(bytes(10, 2));
    expect(readdirSync(join(root, EVENT)).sort()).toEqual(['.meta.audio.wav.json', 'audio.wav']);
  });

  it('leaves no temporary file behind when a write fails', async () => {
    const store = new FolderEvidenceStore({ root, now });
    // A directory where the artifact should go makes the final rename fail.
    mkdirSync(join(root, EVENT, 'snapshot.jpg'), { recursive: true });
    writeFileSync(join(root, EVENT, 'snapshot.jpg', 'x'), 'occupied');
    await expect(store.put(EVENT, 'snapshot.jpg', bytes(5), 'image/jpeg')).rejects.toThrow();
    expect(readdirSync(join(root, EVENT))).toEqual(['snapshot.jpg']);
  });

  it('rejects keys that could leave the store, before touching the disk', async () => {
    const store = new FolderEvidenceStore({ root, now });
    const invalid = expect.objectContaining({ code: EvidenceErrorCode.INVALID_KEY });
    await expect(store.put('..', 'x.jpg', bytes(1), 'image/jpeg')).rejects.toEqual(invalid);
    await expect(store.put(EVENT, '../../escape.jpg', bytes(1), 'image/jpeg')).rejects.toEqual(
      invalid,
    );
    await expect(store.put('a/b', 'x.jpg', bytes(1), 'image/jpeg')).rejects.toEqual(invalid);
    await expect(store.get('../../etc/passwd')).rejects.toEqual(invalid);
    await expect(store.get(`${EVENT}/../../x`)).rejects.toEqual(invalid);
    await expect(store.delete('../evidence')).rejects.toEqual(invalid);
    await expect(store.deleteEvent('..')).rejects.toEqual(invalid);
    await expect(store.list('../..')).rejects.toEqual(invalid);
    expect(existsSync(root)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects a malformed content type', async () => {
    const store = new FolderEvidenceStore({ root, now });
    await expect(store.put(EVENT, 'a.bin', bytes(1), 'jpeg')).rejects.toMatchObject({
      code: EvidenceErrorCode.INVALID_INPUT,
    });
    await expect(store.put(EVENT, 'a.bin', bytes(1), 'image/jpeg\r\nX: y')).rejects.toThrow(
      'invalid content type',
    );
  });

  it('says NOT_FOUND for what is not there, and deletes what is', async () => {
    const store = new FolderEvidenceStore({ root, now });
    await expect(store.get(`${EVENT}/snapshot.jpg`)).rejects.toMatchObject({
      code: EvidenceErrorCode.NOT_FOUND,
    });
    const a = await store.put(EVENT, 'a.png', bytes(3), 'image/png');
    await store.put(EVENT, 'b.png', bytes(3), 'image/png');
    await expect(store.delete(a)).resolves.toBe(true);
    await expect(store.delete(a)).resolves.toBe(false);
    expect((await store.list(EVENT)).map((r) => r.key)).toEqual([`${EVENT}/b.png`]);
    await expect(store.deleteEvent(EVENT)).resolves.toBe(1);
    expect(existsSync(join(root, EVENT))).toBe(false);
    await expect(store.list(EVENT)).resolves.toEqual([]);
  });

  it('still serves an artifact whose metadata was lost, typed by its extension', async () => {
    const store = new FolderEvidenceStore({ root, now });
    await store.put(EVENT, 'spectrogram.png', bytes(4), 'image/png');
    rmSync(join(root, EVENT, '.meta.spectrogram.png.json'));
    await expect(store.get(`${EVENT}/spectrogram.png`)).resolves.toMatchObject({
      contentType: 'image/png',
    });
    expect((await store.list(EVENT))[0]).toMatchObject({ contentType: 'image/png', bytes: 4 });
  });

  describe('retention', () => {
    it('removes whole events whose newest artifact is older than maxAgeMs, by the store clock', async () => {
      const store = new FolderEvidenceStore({ root, now, maxAgeMs: 60 * MINUTE });
      await store.put('old', 'snapshot.jpg', bytes(10), 'image/jpeg');
      await store.put('old', 'audio.wav', bytes(10), 'audio/wav');
      clock += 30 * MINUTE;
      await store.put('recent', 'snapshot.jpg', bytes(10), 'image/jpeg');

      clock += 30 * MINUTE;
      await expect(store.sweep()).resolves.toBe(0); // exactly maxAge old: kept
      clock += 1;
      await expect(store.sweep()).resolves.toBe(2);
      expect(readdirSync(root)).toEqual(['recent']);
      await expect(store.sweep(clock + 30 * MINUTE + 1)).resolves.toBe(1);
      expect(readdirSync(root)).toEqual([]);
    });

    it('removes the oldest events first until the total size fits maxBytes', async () => {
      const probe = new FolderEvidenceStore({ root: join(dir, 'probe'), now });
      await probe.put('probe', 'snapshot.jpg', bytes(1000), 'image/jpeg');
      const perEvent = readdirSync(join(dir, 'probe', 'probe'))
        .map((name) => statSync(join(dir, 'probe', 'probe', name)).size)
        .reduce((a, b) => a + b, 0);

      const store = new FolderEvidenceStore({ root, now, maxBytes: 2 * perEvent });
      for (const id of ['c-first', 'a-second', 'b-third']) {
        await store.put(id, 'snapshot.jpg', bytes(1000), 'image/jpeg');
        clock += MINUTE;
      }
      await expect(store.sweep()).resolves.toBe(1);
      // By age, not by name: c-first was written first.
      expect(readdirSync(root).sort()).toEqual(['a-second', 'b-third']);
      await expect(store.sweep()).resolves.toBe(0);
    });

    it('counts only event folders, leaving foreign entries alone', async () => {
      const store = new FolderEvidenceStore({ root, now, maxAgeMs: 0, maxBytes: 0 });
      await store.put(EVENT, 'a.png', bytes(5), 'image/png');
      writeFileSync(join(root, 'README'), 'not evidence');
      mkdirSync(join(root, '.trash'));
      clock += 1;
      await expect(store.sweep()).resolves.toBe(1);
      expect(readdirSync(root).sort()).toEqual(['.trash', 'README']);
    });

    it('does nothing without limits and copes with a root that does not exist yet', async () => {
      await expect(new FolderEvidenceStore({ root, now }).sweep()).resolves.toBe(0);
      await expect(new FolderEvidenceStore({ root, now, maxAgeMs: 1 }).sweep()).resolves.toBe(0);
    });

    it('runs one sweep at a time', async () => {
      const store = new FolderEvidenceStore({ root, now, maxBytes: 0 });
      await store.put('a', 'x.png', bytes(5), 'image/png');
      await store.put('b', 'x.png', bytes(5), 'image/png');
      const counts = await Promise.all([store.sweep(), store.sweep()]);
      expect(counts).toEqual([2, 0]);
    });

    it('rejects negative limits', () => {
      expect(() => new FolderEvidenceStore({ root, maxAgeMs: -1 })).toThrow('maxAgeMs');
      expect(() => new FolderEvidenceStore({ root, maxBytes: NaN })).toThrow('maxBytes');
    });
  });
});
