import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ApiErrorCode } from './api.error';

/**
 * An uploaded clip spooled to a private temp file: ffmpeg needs a seekable input for mp4s
 * whose index sits at the end, and the disk, not the heap, absorbs a fast uploader.
 */
export class ClipUpload {
  private stream?: WriteStream;
  private dir?: string;
  private received = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.received;
  }

  async open(name: string): Promise<string> {
    this.dir = await mkdtemp(join(tmpdir(), 'vigil-clip-'));
    // Keep the extension: ffmpeg's format probe uses it as a hint.
    const extension = /\.[A-Za-z0-9]{1,8}$/.exec(name)?.[0] ?? '';
    const path = join(this.dir, `clip${extension}`);
    this.stream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    return path;
  }

  /** False when the caller should pause its source until `drained()`. */
  write(data: Uint8Array): boolean {
    this.received += data.byteLength;
    if (this.received > this.maxBytes) {
      throw new ApiError(
        ApiErrorCode.RESOURCE_EXHAUSTED,
        `data: the clip is larger than the ${this.maxBytes} bytes this server accepts`,
        'data',
      );
    }
    return this.stream!.write(data);
  }

  drained(): Promise<void> {
    return new Promise((resolve) => this.stream!.once('drain', resolve));
  }

  finish(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream!.once('error', reject);
      this.stream!.end(resolve);
    });
  }

  async dispose(): Promise<void> {
    this.stream?.destroy();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
