import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { type FileHandle, open, rename, rm, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Headers } from './bus.interface';

/** A message waiting for the uplink: what it needs to be published exactly as it was. */
export interface SpoolRecord {
  topic: string;
  key: string;
  headers: Headers;
  /** The encoded payload (protobuf), published as is. */
  value: Uint8Array;
}

export interface SpooledRecord extends SpoolRecord {
  /** Position in the spool: increases by one per record, across restarts. */
  seq: number;
  /** Wall-clock ms when it was spooled. */
  at: number;
  /** Its size on disk. */
  bytes: number;
}

/** Why records left the spool without being delivered. */
export type SpoolDropReason = 'size' | 'age' | 'torn';

export interface SpoolObserver {
  dropped(reason: SpoolDropReason, records: number): void;
  /** Bytes the segments hold on disk after a change. */
  size(bytes: number): void;
}

export interface DiskSpoolOptions {
  dir: string;
  /** Bytes of segments kept at most; beyond it the oldest segment goes, its records counted. */
  maxBytes: number;
  /** Records older than this (by the newest record of their segment) go, counted. */
  maxAgeMs: number;
  /** A segment is closed at this size and a new one begun (default maxBytes / 8, 64 KiB–16 MiB). */
  segmentBytes?: number;
  /**
   * true (default): an append resolves after its bytes are on disk (fdatasync; appends that
   * arrive together share one). false: after the write only (a power cut may lose the last ones).
   */
  fsync?: boolean;
  observer?: SpoolObserver;
  now?: () => number;
}

interface Segment {
  file: string;
  firstSeq: number;
  /** Seq the next record of this segment would have. */
  endSeq: number;
  bytes: number;
  newestAt: number;
}

interface Pending {
  record: SpoolRecord;
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
}

/** length (u32) + crc32 (u32) of the body */
const FRAME = 8;
/** seq (f64) + at (f64) + meta length (u32) */
const BODY_HEAD = 20;
const CURSOR_FILE = 'cursor.json';
const ID_FILE = 'spool-id';
const SEGMENT = /^(\d{16})\.seg$/;
const READ_CHUNK = 1024 * 1024;
/** A length beyond this is a torn or foreign frame, not a record. */
const MAX_RECORD = 64 * 1024 * 1024;

/**
 * An append-only log on local disk between a producer that must not wait on the network and an
 * uplink that is sometimes down. Records go into segment files (`<first seq>.seg`), each one
 * framed with its length and CRC-32, so a record torn by a crash mid-write is recognised at the
 * next open and cut off (counted), and nothing before it is lost. The reader acknowledges what
 * was delivered; its position survives restarts in `cursor.json` (written aside and renamed), so
 * a restart sends again at most what was in flight. Bounded by size and by age: the oldest
 * segment is dropped first, and its undelivered records are counted.
 *
 * One writer and one reader per directory.
 */
export class DiskSpool {
  private readonly segments: Segment[] = [];
  private readonly segmentBytes: number;
  private readonly now: () => number;
  private nextSeq = 0;
  /** First seq not yet acknowledged. */
  private ackedTo = 0;
  /** Reader position: seq and where it starts in its segment. */
  private read = { seq: 0, segment: -1, offset: 0 };
  private active?: { handle: FileHandle; segment: Segment };
  private queue: Pending[] = [];
  private flushing?: Promise<void>;
  private waiters: (() => void)[] = [];
  private closed = false;
  /**
   * Names this spool for good (kept in `spool-id`): seqs restart only with a new spool, which
   * then has a new id, so `<id>:<seq>` never names two messages.
   */
  id = '';

  private constructor(private readonly options: DiskSpoolOptions) {
    this.now = options.now ?? Date.now;
    this.segmentBytes =
      options.segmentBytes ??
      Math.min(16 * 1024 * 1024, Math.max(64 * 1024, Math.floor(options.maxBytes / 8)));
    if (!(options.maxBytes >= 2 * this.segmentBytes)) {
      throw new RangeError(
        `spool maxBytes (${options.maxBytes}) must hold at least two segments of ${this.segmentBytes} bytes`,
      );
    }
  }

  /** Opens (or creates) the spool in `dir`, cutting off a record torn by an earlier crash. */
  static async open(options: DiskSpoolOptions): Promise<DiskSpool> {
    const spool = new DiskSpool(options);
    await spool.recover();
    return spool;
  }

  /** Bytes the segments hold. */
  get bytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  /** Records spooled and not yet acknowledged (dropped ones excluded). */
  get pending(): number {
    return this.nextSeq + this.queue.length - this.ackedTo;
  }

  /** Appends a record; resolves with its seq once it is written (and synced, by default). */
  append(record: SpoolRecord): Promise<number> {
    if (this.closed) return Promise.reject(new Error('spool closed'));
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
  }

  /**
   * Up to `max` of the oldest records not yet acknowledged, in order, from where the reader
   * is (records handed out and not acknowledged are handed out again after `rewind`).
   */
  async peek(max: number): Promise<SpooledRecord[]> {
    await this.prune();
    const out: SpooledRecord[] = [];
    this.skipDropped();
    let { seq, segment, offset } = this.read;
    while (out.length < max && seq < this.nextSeq) {
      const at = this.segments.findIndex((s) => s.firstSeq <= seq && seq < s.endSeq);
      if (at < 0) break;
      const seg = this.segments[at];
      if (segment !== seg.firstSeq) {
        segment = seg.firstSeq;
        offset = 0;
      }
      const handle = await open(join(this.options.dir, seg.file), 'r');
      try {
        let buffer = await readAt(handle, offset, Math.min(READ_CHUNK, seg.bytes - offset));
        if (buffer.length >= FRAME && buffer.readUInt32LE(0) + FRAME > buffer.length) {
          buffer = await readAt(
            handle,
            offset,
            Math.min(buffer.readUInt32LE(0) + FRAME, seg.bytes - offset),
          );
        }
        let pos = 0;
        while (out.length < max && seq < seg.endSeq) {
          const parsed = parseRecord(buffer, pos);
          if (parsed === 'short') {
            if (pos === 0) throw new Error(`spool record at ${seg.file}:${offset} is cut short`);
            break;
          }
          if (parsed === 'torn')
            throw new Error(`spool record at ${seg.file}:${offset + pos} is corrupt`);
          pos = parsed.end;
          // Records before the reader's seq (skipped to after a restart) are passed over.
          if (parsed.record.seq < seq) continue;
          out.push(parsed.record);
          seq = parsed.record.seq + 1;
        }
        offset += pos;
      } finally {
        await handle.close();
      }
    }
    this.read = { seq, segment, offset };
    return out;
  }

  /** Hands out again, at the next peek, whatever was peeked and not acknowledged. */
  rewind(): void {
    this.read = { seq: this.ackedTo, segment: -1, offset: 0 };
  }

  /** Marks every record up to and including `seq` as delivered; whole segments are deleted. */
  async ack(seq: number): Promise<void> {
    if (seq + 1 <= this.ackedTo) return;
    this.ackedTo = seq + 1;
    // Written aside and renamed: a crash leaves the old cursor or the new one, never half.
    const tmp = join(this.options.dir, `${CURSOR_FILE}.tmp`);
    await writeFile(tmp, JSON.stringify({ ackedTo: this.ackedTo }));
    await rename(tmp, join(this.options.dir, CURSOR_FILE));
    while (this.segments.length > 0) {
      const oldest = this.segments[0];
      if (oldest.endSeq > this.ackedTo || oldest === this.active?.segment) break;
      await this.removeOldest();
    }
    this.options.observer?.size(this.bytes);
  }

  /** Resolves when a record is appended (or at once if some wait), or when `signal` aborts. */
  whenReadable(signal?: AbortSignal): Promise<void> {
    if (this.read.seq < this.nextSeq || this.closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Drops segments past the age bound; runs at every peek, and from a timer if the caller likes. */
  prune(): Promise<void> {
    return this.pruneAge(false);
  }

  private async pruneAge(writing: boolean): Promise<void> {
    const cutoff = this.now() - this.options.maxAgeMs;
    while (this.segments.length > 0 && this.segments[0].newestAt < cutoff) {
      if (this.segments[0] === this.active?.segment) {
        // The segment being written has gone stale as a whole: begin a fresh one, unless a
        // write is under way (then it is not stale for long).
        if (this.flushing && !writing) return;
        const { handle } = this.active;
        this.active = undefined;
        await handle.close();
      }
      this.dropOldest('age');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.active?.handle.close();
    this.active = undefined;
    this.waiters.splice(0).forEach((wake) => wake());
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.writeBatch(batch);
      } catch (error) {
        batch.forEach((p) => p.reject(error as Error));
      }
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    // Stale records go before new ones join them in a segment (age is judged per segment).
    await this.pruneAge(true);
    const at = this.now();
    const written: { pending: Pending; seq: number }[] = [];
    let frames: { pending: Pending; frame: Buffer }[] = [];
    let bytes = 0;
    // What the reader may see (segment sizes, nextSeq) moves only once the bytes are written.
    const write = async () => {
      if (frames.length === 0) return;
      const active = this.active!;
      await active.handle.write(Buffer.concat(frames.map((f) => f.frame)));
      if (this.options.fsync ?? true) await active.handle.datasync();
      for (const { pending, frame } of frames) {
        active.segment.bytes += frame.length;
        active.segment.endSeq = this.nextSeq + 1;
        active.segment.newestAt = at;
        written.push({ pending, seq: this.nextSeq++ });
      }
      frames = [];
      bytes = 0;
    };
    for (const pending of batch) {
      const frame = encodeRecord(pending.record, this.nextSeq + frames.length, at);
      if (frame.length > MAX_RECORD) {
        pending.reject(new RangeError(`record of ${frame.length} bytes is too large to spool`));
        continue;
      }
      if (this.active && this.active.segment.bytes + bytes >= this.segmentBytes) {
        await write();
        await this.active.handle.close();
        this.active = undefined;
      }
      if (!this.active) await this.begin();
      frames.push({ pending, frame });
      bytes += frame.length;
    }
    await write();
    // Bounded by size: the oldest segment goes, whatever it still held.
    while (this.bytes > this.options.maxBytes && this.segments.length > 1) this.dropOldest('size');
    this.options.observer?.size(this.bytes);
    written.forEach(({ pending, seq }) => pending.resolve(seq));
    this.waiters.splice(0).forEach((wake) => wake());
  }

  private async begin(): Promise<void> {
    const segment: Segment = {
      file: `${String(this.nextSeq).padStart(16, '0')}.seg`,
      firstSeq: this.nextSeq,
      endSeq: this.nextSeq,
      bytes: 0,
      newestAt: this.now(),
    };
    const handle = await open(join(this.options.dir, segment.file), 'a');
    this.segments.push(segment);
    this.active = { handle, segment };
  }

  private dropOldest(reason: SpoolDropReason): void {
    const oldest = this.segments.shift()!;
    const lost = oldest.endSeq - Math.max(oldest.firstSeq, Math.min(this.ackedTo, oldest.endSeq));
    if (lost > 0) this.options.observer?.dropped(reason, lost);
    this.ackedTo = Math.max(this.ackedTo, oldest.endSeq);
    // Removed in the background: the bound holds on what the spool counts, at once.
    void rm(join(this.options.dir, oldest.file), { force: true });
    this.options.observer?.size(this.bytes);
  }

  private async removeOldest(): Promise<void> {
    const oldest = this.segments.shift()!;
    await rm(join(this.options.dir, oldest.file), { force: true });
  }

  /** The reader never hands out what a bound dropped. */
  private skipDropped(): void {
    if (this.read.seq < this.ackedTo) this.read = { seq: this.ackedTo, segment: -1, offset: 0 };
  }

  private async recover(): Promise<void> {
    const { dir } = this.options;
    mkdirSync(dir, { recursive: true });
    try {
      this.id = readFileSync(join(dir, ID_FILE), 'utf8').trim();
    } catch {
      // A new spool.
    }
    if (!/^[0-9a-f]{12}$/.test(this.id)) {
      this.id = randomUUID().replace(/-/g, '').slice(0, 12);
      await writeFile(join(dir, `${ID_FILE}.tmp`), this.id);
      await rename(join(dir, `${ID_FILE}.tmp`), join(dir, ID_FILE));
    }
    try {
      const cursor = JSON.parse(readFileSync(join(dir, CURSOR_FILE), 'utf8')) as {
        ackedTo?: unknown;
      };
      if (typeof cursor.ackedTo === 'number' && cursor.ackedTo >= 0) this.ackedTo = cursor.ackedTo;
    } catch {
      // No cursor yet (a new spool) or one cut off before its rename: start from the segments.
    }
    const files = readdirSync(dir)
      .filter((f) => SEGMENT.test(f))
      .sort();
    for (const file of files) {
      const path = join(dir, file);
      const data = readFileSync(path);
      const segment: Segment = {
        file,
        firstSeq: Number(SEGMENT.exec(file)![1]),
        endSeq: Number(SEGMENT.exec(file)![1]),
        bytes: 0,
        newestAt: statSync(path).mtimeMs,
      };
      let pos = 0;
      for (;;) {
        const parsed = parseRecord(data, pos);
        if (parsed === 'short' && pos === data.length) break;
        if (parsed === 'short' || parsed === 'torn') {
          // A crash mid-write: the record being written is cut off; nothing after it was acknowledged.
          this.options.observer?.dropped('torn', 1);
          const handle = await open(path, 'r+');
          await handle.truncate(pos);
          await handle.close();
          break;
        }
        segment.endSeq = parsed.record.seq + 1;
        segment.newestAt = parsed.record.at;
        pos = parsed.end;
      }
      segment.bytes = pos;
      if (segment.endSeq === segment.firstSeq) {
        await rm(path, { force: true });
        continue;
      }
      this.segments.push(segment);
    }
    this.nextSeq = Math.max(this.ackedTo, this.segments.at(-1)?.endSeq ?? 0);
    // Segments wholly delivered before the crash may still be there.
    while (this.segments.length > 0 && this.segments[0].endSeq <= this.ackedTo) {
      await this.removeOldest();
    }
    this.read = { seq: this.ackedTo, segment: -1, offset: 0 };
    await this.prune();
    this.options.observer?.size(this.bytes);
  }
}

async function readAt(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(Math.max(0, length));
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
  return buffer.subarray(0, bytesRead);
}

function encodeRecord(record: SpoolRecord, seq: number, at: number): Buffer {
  const meta = Buffer.from(JSON.stringify({ t: record.topic, k: record.key, h: record.headers }));
  const body = Buffer.alloc(BODY_HEAD + meta.length + record.value.length);
  body.writeDoubleLE(seq, 0);
  body.writeDoubleLE(at, 8);
  body.writeUInt32LE(meta.length, 16);
  meta.copy(body, BODY_HEAD);
  body.set(record.value, BODY_HEAD + meta.length);
  const frame = Buffer.alloc(FRAME);
  frame.writeUInt32LE(body.length, 0);
  frame.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([frame, body]);
}

/** 'short': the buffer ends inside the record; 'torn': its bytes do not check out. */
function parseRecord(
  data: Buffer,
  pos: number,
): { record: SpooledRecord; end: number } | 'short' | 'torn' {
  if (data.length - pos < FRAME) return 'short';
  const length = data.readUInt32LE(pos);
  if (length < BODY_HEAD || length > MAX_RECORD) return 'torn';
  if (data.length - pos - FRAME < length) return 'short';
  const body = data.subarray(pos + FRAME, pos + FRAME + length);
  if (crc32(body) !== data.readUInt32LE(pos + 4)) return 'torn';
  const metaLength = body.readUInt32LE(16);
  if (BODY_HEAD + metaLength > length) return 'torn';
  const meta = JSON.parse(body.subarray(BODY_HEAD, BODY_HEAD + metaLength).toString('utf8')) as {
    t: string;
    k: string;
    h: Headers;
  };
  return {
    record: {
      seq: body.readDoubleLE(0),
      at: body.readDoubleLE(8),
      topic: meta.t,
      key: meta.k,
      headers: meta.h,
      value: new Uint8Array(body.subarray(BODY_HEAD + metaLength)),
      bytes: FRAME + length,
    },
    end: pos + FRAME + length,
  };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), as zlib computes it; Node 20 has no zlib.crc32 yet. */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
