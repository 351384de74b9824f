import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskSpool, type DiskSpoolOptions, type SpoolDropReason, crc32 } from './disk.spool';

const record = (n: number, size = 40) => ({
  topic: n % 2 ? 'vigil.detections' : 'vigil.streams.status',
  key: `cam-${n % 3}`,
  headers: { 'x-n': String(n) },
  value: new Uint8Array(size).fill(n % 256),
});

describe('DiskSpool', () => {
  let dir: string;
  let dropped: Record<SpoolDropReason, number>;
  let clock: number;
  const open = (options: Partial<DiskSpoolOptions> = {}) =>
    DiskSpool.open({
      dir,
      maxBytes: 1024 * 1024,
      maxAgeMs: 60_000,
      now: () => clock,
      observer: { dropped: (reason, n) => (dropped[reason] += n), size: () => undefined },
      ...options,
    });
  const numbers = (records: { headers: Record<string, string> }[]) =>
    records.map((r) => Number(r.headers['x-n']));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dropped = { size: 0, age: 0, torn: 0 };
    clock = 1_000_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('hands records out in order, with topic, key, headers and bytes as appended', async () => {
    const spool = await open();
    const seqs = await Promise.all([0, 1, 2, 3, 4].map((n) => spool.append(record(n))));
    expect(seqs).toEqual([0, 1, 2, 3, 4]);
    const first = await spool.peek(3);
    expect(numbers(first)).toEqual([0, 1, 2]);
    expect(first[1]).toMatchObject({ topic: 'vigil.detections', key: 'cam-1', seq: 1, at: clock });
    expect(Buffer.from(first[1].value)).toEqual(Buffer.alloc(40, 1));
    expect(numbers(await spool.peek(10))).toEqual([3, 4]);
    expect(await spool.peek(10)).toEqual([]);
    // Not acknowledged: a rewind hands them out again.
    spool.rewind();
    expect(numbers(await spool.peek(10))).toEqual([0, 1, 2, 3, 4]);
    await spool.close();
  });

  it('keeps what was not acknowledged across a restart, and nothing that was', async () => {
    const spool = await open();
    for (let n = 0; n < 6; n++) await spool.append(record(n));
    await spool.peek(4);
    await spool.ack(3);
    await spool.close();
    const again = await open();
    expect(again.pending).toBe(2);
    expect(numbers(await again.peek(10))).toEqual([4, 5]);
    // Seqs go on from where they were: a message id is never reused.
    expect(await again.append(record(6))).toBe(6);
    expect(again.id).toBe(spool.id);
    await again.close();
  });

  it('detects a record torn by a crash mid-write, cuts it off and loses nothing before it', async () => {
    const spool = await open();
    for (let n = 0; n < 3; n++) await spool.append(record(n));
    await spool.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    const whole = readFileSync(join(dir, segment));
    // The first half of a fourth record made it to disk before the crash.
    appendFileSync(join(dir, segment), whole.subarray(0, whole.length / 3 / 2));
    const again = await open();
    expect(dropped.torn).toBe(1);
    expect(numbers(await again.peek(10))).toEqual([0, 1, 2]);
    expect(readFileSync(join(dir, segment)).length).toBe(whole.length);
    await again.append(record(3));
    expect(numbers(await again.peek(10))).toEqual([3]);
    await again.close();
  });

  it('cuts off a last record whose bytes do not match their checksum', async () => {
    const spool = await open();
    for (let n = 0; n < 3; n++) await spool.append(record(n));
    await spool.close();
    const [segment] = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    const bytes = readFileSync(join(dir, segment));
    bytes[bytes.length - 5] ^= 0xff; // a flipped byte in the payload of the last record
    writeFileSync(join(dir, segment), bytes);
    const again = await open();
    expect(dropped.torn).toBe(1);
    expect(numbers(await again.peek(10))).toEqual([0, 1]);
    await again.close();
  });

  it('stays within its size bound by dropping the oldest segments, counting their records', async () => {
    const spool = await open({ maxBytes: 4096, segmentBytes: 1024 });
    const total = 200;
    for (let n = 0; n < total; n++) {
      await spool.append(record(n, 100));
      expect(spool.bytes).toBeLessThanOrEqual(4096);
    }
    const left = await spool.peek(total);
    expect(left.length + dropped.size).toBe(total);
    expect(dropped.size).toBeGreaterThan(0);
    // The newest survive, in order, without a gap.
    expect(numbers(left)).toEqual(
      Array.from({ length: left.length }, (_, i) => total - left.length + i),
    );
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.seg'));
    expect(onDisk.length).toBeLessThanOrEqual(5);
    await spool.close();
  });

  it('drops records past the age bound, counted, and goes on with new ones', async () => {
    const spool = await open({ maxBytes: 65536, segmentBytes: 1024, maxAgeMs: 10_000 });
    for (let n = 0; n < 30; n++) await spool.append(record(n, 100));
    clock += 11_000;
    await spool.append(record(30, 100));
    const left = await spool.peek(100);
    expect(numbers(left)).toEqual([30]);
    expect(dropped.age).toBe(30);
    await spool.close();
  });

  it('deletes the segments it delivered', async () => {
    const spool = await open({ maxBytes: 8192, segmentBytes: 1024 });
    for (let n = 0; n < 40; n++) await spool.append(record(n, 100));
    const all = await spool.peek(100);
    await spool.ack(all[all.length - 1].seq);
    expect(spool.pending).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBe(1); // the one being written
    await spool.close();
  });

  it('wakes a reader waiting for records', async () => {
    const spool = await open();
    const readable = spool.whenReadable();
    let woke = false;
    void readable.then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    await spool.append(record(1));
    await readable;
    expect(woke).toBe(true);
    await spool.close();
  });

  it('computes the CRC-32 zlib does', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
