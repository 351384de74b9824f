import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { EvidenceError, EvidenceErrorCode } from './evidence.error';
import {
  assertEventId,
  evidenceKey,
  isValidSegment,
  parseEvidenceKey,
} from './evidence-key.parser';

/** Where a stored artifact lives; what an event carries to point at its evidence. */
export interface EvidenceRef {
  /** `<eventId>/<name>`: a relative path in a folder, an object key under a prefix in S3. */
  key: string;
  contentType: string;
  bytes: number;
  /** Hex SHA-256 of the bytes, so a copy handed to an investigator can be checked. */
  sha256: string;
}

export interface StoredEvidence {
  bytes: Uint8Array;
  contentType: string;
}

/**
 * Evidence storage. Deliberately shaped like an object store (flat keys, whole-object put and
 * get, no rename, no partial reads) so an S3-compatible implementation can sit behind the
 * same interface later: put = PutObject with ContentType and a checksum, get = GetObject,
 * delete = DeleteObject, deleteEvent = delete by prefix, and sweep either walks the prefix or
 * is left to a bucket lifecycle rule. Only the folder store exists today.
 */
export interface EvidenceStore {
  put(eventId: string, name: string, bytes: Uint8Array, contentType: string): Promise<EvidenceRef>;
  /** Throws EvidenceError NOT_FOUND when absent, INVALID_KEY for a key that is not ours. */
  get(target: EvidenceRef | string): Promise<StoredEvidence>;
  /** False when there was nothing to delete. */
  delete(target: EvidenceRef | string): Promise<boolean>;
  /** The event's artifacts, by name. */
  list(eventId: string): Promise<EvidenceRef[]>;
  /** Removes every artifact of the event; resolves with how many there were. */
  deleteEvent(eventId: string): Promise<number>;
  /** Applies retention as of `now` (ms since the epoch); resolves with the artifacts removed. */
  sweep(now?: number): Promise<number>;
}

export interface FolderEvidenceStoreOptions {
  /** Created on first write. Holds one folder per event id and nothing else of ours. */
  root: string;
  /** Events whose newest artifact is older than this are removed by sweep; default: kept. */
  maxAgeMs?: number;
  /** Total bytes on disk above which sweep removes whole events, oldest first; default: no cap. */
  maxBytes?: number;
  /** Clock for creation times and sweeps; default Date.now. */
  now?: () => number;
}

interface Metadata {
  contentType: string;
  sha256: string;
  bytes: number;
  /** Store clock, not file mtime: retention must follow the clock the store was given. */
  createdAt: number;
}

/** Names that cannot collide with artifacts: those always start with a letter or digit. */
const META_PREFIX = '.meta.';
const TEMP_PREFIX = '.tmp.';
const CONTENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(;.*)?$/;
const CONTENT_TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.wav': 'audio/wav',
  '.json': 'application/json',
};

interface EventUsage {
  eventId: string;
  objects: number;
  bytes: number;
  newestAt: number;
}

/**
 * The embedded default: `<root>/<eventId>/<name>`, a hidden metadata file beside each artifact.
 * Writes go to a temporary file that is flushed and then renamed, so a reader or a crash never
 * sees half an image. Retention removes whole events, so an incident never keeps a snapshot
 * whose audio is gone.
 */
export class FolderEvidenceStore implements EvidenceStore {
  private readonly root: string;
  private readonly maxAgeMs?: number;
  private readonly maxBytes?: number;
  private readonly now: () => number;
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(options: FolderEvidenceStoreOptions) {
    this.root = resolve(options.root);
    this.maxAgeMs = nonNegative(options.maxAgeMs, 'maxAgeMs');
    this.maxBytes = nonNegative(options.maxBytes, 'maxBytes');
    this.now = options.now ?? Date.now;
  }

  async put(
    eventId: string,
    name: string,
    bytes: Uint8Array,
    contentType: string,
  ): Promise<EvidenceRef> {
    const key = evidenceKey(eventId, name);
    if (
      typeof contentType !== 'string' ||
      contentType.length > 255 ||
      !CONTENT_TYPE.test(contentType)
    ) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `invalid content type ${JSON.stringify(contentType)}`,
      );
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const meta: Metadata = { contentType, sha256, bytes: bytes.length, createdAt: this.now() };
    const dir = this.eventDir(eventId);
    await mkdir(dir, { recursive: true });
    try {
      await this.writeBoth(dir, name, bytes, meta);
    } catch (error) {
      // A sweep may have removed the (then empty) folder between mkdir and our write.
      if (!isCode(error, 'ENOENT')) throw error;
      await mkdir(dir, { recursive: true });
      await this.writeBoth(dir, name, bytes, meta);
    }
    return { key, contentType, bytes: bytes.length, sha256 };
  }

  async get(target: EvidenceRef | string): Promise<StoredEvidence> {
    const { eventId, name } = parseEvidenceKey(keyOf(target));
    const dir = this.eventDir(eventId);
    let data: Buffer;
    try {
      data = await readFile(join(dir, name));
    } catch (error) {
      if (isCode(error, 'ENOENT')) throw notFound(`${eventId}/${name}`);
      throw error;
    }
    const meta = await this.readMeta(dir, name);
    return {
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.length),
      contentType: meta?.contentType ?? guessContentType(name),
    };
  }

  async delete(target: EvidenceRef | string): Promise<boolean> {
    const { eventId, name } = parseEvidenceKey(keyOf(target));
    const dir = this.eventDir(eventId);
    const existed = await removeFile(join(dir, name));
    await removeFile(join(dir, `${META_PREFIX}${name}.json`));
    try {
      await rmdir(dir);
    } catch {
      // Not empty (other artifacts) or already gone: both fine.
    }
    return existed;
  }

  async list(eventId: string): Promise<EvidenceRef[]> {
    assertEventId(eventId);
    const dir = this.eventDir(eventId);
    const names = (await readdirOrEmpty(dir)).filter(isValidSegment).sort();
    const refs: EvidenceRef[] = [];
    for (const name of names) {
      const meta = await this.readMeta(dir, name);
      if (meta) {
        refs.push({ key: `${eventId}/${name}`, ...pick(meta) });
        continue;
      }
      // Written, but the metadata never made it (crash between the two renames).
      const data = await readFile(join(dir, name)).catch(() => undefined);
      if (!data) continue;
      refs.push({
        key: `${eventId}/${name}`,
        contentType: guessContentType(name),
        bytes: data.length,
        sha256: createHash('sha256').update(data).digest('hex'),
      });
    }
    return refs;
  }

  async deleteEvent(eventId: string): Promise<number> {
    assertEventId(eventId);
    const dir = this.eventDir(eventId);
    const objects = (await readdirOrEmpty(dir)).filter(isValidSegment).length;
    await rm(dir, { recursive: true, force: true });
    return objects;
  }

  sweep(now: number = this.now()): Promise<number> {
    // One sweep at a time: two would count the same bytes and remove twice as much.
    const run = this.sweeping.then(() => this.sweepOnce(now));
    this.sweeping = run.catch(() => undefined);
    return run;
  }

  private async sweepOnce(now: number): Promise<number> {
    if (this.maxAgeMs === undefined && this.maxBytes === undefined) return 0;
    const usage = await this.usage();
    let removed = 0;
    const kept: EventUsage[] = [];
    for (const event of usage) {
      if (this.maxAgeMs !== undefined && now - event.newestAt > this.maxAgeMs) {
        removed += await this.removeEvent(event);
      } else {
        kept.push(event);
      }
    }
    if (this.maxBytes !== undefined) {
      kept.sort((a, b) => a.newestAt - b.newestAt || a.eventId.localeCompare(b.eventId));
      let total = kept.reduce((sum, event) => sum + event.bytes, 0);
      for (const event of kept) {
        if (total <= this.maxBytes) break;
        removed += await this.removeEvent(event);
        total -= event.bytes;
      }
    }
    return removed;
  }

  private async usage(): Promise<EventUsage[]> {
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
    const out: EventUsage[] = [];
    // Only real folders with event-id names: never follow a link out of the root, never touch
    // what someone else put there.
    for (const entry of entries) {
      if (!entry.isDirectory() || !isValidSegment(entry.name)) continue;
      const dir = join(this.root, entry.name);
      const event: EventUsage = { eventId: entry.name, objects: 0, bytes: 0, newestAt: -Infinity };
      let newestFile = -Infinity;
      for (const name of await readdirOrEmpty(dir)) {
        const stats = await lstat(join(dir, name)).catch(() => undefined);
        if (!stats) continue;
        event.bytes += stats.size;
        newestFile = Math.max(newestFile, stats.mtimeMs);
        if (!isValidSegment(name)) continue;
        event.objects++;
        const meta = await this.readMeta(dir, name);
        event.newestAt = Math.max(event.newestAt, meta?.createdAt ?? stats.mtimeMs);
      }
      // Leftovers of interrupted writes age by their file times.
      if (event.objects === 0) {
        const dirStats = await lstat(dir).catch(() => undefined);
        event.newestAt = Math.max(newestFile, dirStats?.mtimeMs ?? -Infinity);
      }
      out.push(event);
    }
    return out;
  }

  private async removeEvent(event: EventUsage): Promise<number> {
    await rm(this.eventDir(event.eventId), { recursive: true, force: true });
    return event.objects;
  }

  private async writeBoth(dir: string, name: string, bytes: Uint8Array, meta: Metadata) {
    // Data first: a crash in between leaves a readable artifact without metadata, never
    // metadata pointing at nothing.
    await writeAtomically(dir, name, bytes);
    await writeAtomically(dir, `${META_PREFIX}${name}.json`, Buffer.from(JSON.stringify(meta)));
  }

  private async readMeta(dir: string, name: string): Promise<Metadata | undefined> {
    try {
      const parsed: unknown = JSON.parse(
        await readFile(join(dir, `${META_PREFIX}${name}.json`), 'utf8'),
      );
      return isMetadata(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  /** Keys are validated before they get here; the prefix check is the second lock on the door. */
  private eventDir(eventId: string): string {
    const dir = resolve(this.root, eventId);
    if (!dir.startsWith(this.root + sep)) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_KEY,
        `event id escapes the store: ${eventId}`,
      );
    }
    return dir;
  }
}

async function writeAtomically(dir: string, name: string, data: Uint8Array): Promise<void> {
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.${name}`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(data);
      // Flushed before the rename, or a power cut could leave the new name on empty blocks.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, name));
  } catch (error) {
    await removeFile(temp);
    throw error;
  }
}

async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return false;
    throw error;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return [];
    throw error;
  }
}

function keyOf(target: EvidenceRef | string): string {
  return typeof target === 'string' ? target : target?.key;
}

function pick(meta: Metadata): Omit<EvidenceRef, 'key'> {
  return { contentType: meta.contentType, bytes: meta.bytes, sha256: meta.sha256 };
}

function isMetadata(value: unknown): value is Metadata {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.contentType === 'string' &&
    typeof v.sha256 === 'string' &&
    typeof v.bytes === 'number' &&
    typeof v.createdAt === 'number'
  );
}

export function guessContentType(name: string): string {
  return CONTENT_TYPES_BY_EXTENSION[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

function notFound(key: string): EvidenceError {
  return new EvidenceError(EvidenceErrorCode.NOT_FOUND, `no evidence stored under ${key}`);
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function nonNegative(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_INPUT,
      `${name} must be a non-negative number (got ${value})`,
    );
  }
  return value;
}
