import { Injectable } from '@nestjs/common';
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** stdio slot: a pipe we read or write, or nothing. */
export type StdioSlot = 'pipe' | 'ignore';

/** The part of a child process FfmpegProcess uses; small so tests can fake it without casts. */
export interface SpawnedProcess {
  readonly pid?: number;
  readonly stdin: Writable | null;
  readonly stderr: Readable | null;
  /** Index = file descriptor in the child. */
  readonly stdio: ReadonlyArray<Readable | Writable | null | undefined>;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** Starts processes. The only place in the media lib that touches child_process. */
@Injectable()
export class ProcessSpawner {
  spawn(command: string, args: readonly string[], stdio: readonly StdioSlot[]): SpawnedProcess {
    return spawn(command, args, {
      stdio: [...stdio],
      windowsHide: true,
      // ffmpeg colours its log when it thinks it may; colour codes would break log parsing.
      env: { ...process.env, AV_LOG_FORCE_NOCOLOR: '1' },
    });
  }
}
