import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ApiErrorCode } from './api.error';

/**
 * An uploaded clip spooled to a private temp file: ffmpeg needs a seekable input for mp4s
 * whose index sits at the end, and the disk, not the heap, absorbs a fast uploader. A failing
 * disk (full, gone) fails the upload, never the process.
 */
export class ClipUpload {
  private stream?: WriteStream;
  private dir?: string;
  private received = 0;
  private failure?: ApiError;

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
    this.stream.on('error', (error: NodeJS.ErrnoException) => {
      this.failure ??=
        error.code === 'ENOSPC' || error.code === 'EDQUOT'
          ? new ApiError(
              ApiErrorCode.RESOURCE_EXHAUSTED,
              'data: no room left to store the clip',
              'data',
            )
          : new ApiError(ApiErrorCode.INTERNAL, 'internal error');
    });
    return path;
  }

  /** False when the caller should pause its source until `drained()`. */
  write(data: Uint8Array): boolean {
    if (this.failure) throw this.failure;
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

  /** Resolves when the file takes more; rejects when it never will. */
  drained(): Promise<void> {
    return this.settle('drain');
  }

  finish(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const done = this.settle('finish');
    this.stream!.end();
    return done;
  }

  async dispose(): Promise<void> {
    this.stream?.destroy();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private settle(event: 'drain' | 'finish'): Promise<void> {
    const stream = this.stream!;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        stream.off(event, onDone);
        stream.off('error', onError);
        stream.off('close', onClose);
      };
      const onDone = () => (cleanup(), resolve());
      // The listener in open() has recorded the failure by the time this one runs.
      const onError = () => (cleanup(), reject(this.failure));
      const onClose = () => {
        cleanup();
        if (event === 'finish' && !this.failure) resolve();
        else reject(this.failure ?? new ApiError(ApiErrorCode.CANCELLED, 'upload closed'));
      };
      if (this.failure) return reject(this.failure);
      stream.once(event, onDone);
      stream.once('error', onError);
      stream.once('close', onClose);
    });
  }
}
