import { Readable } from 'node:stream';
import { LineRing } from './line.ring';
import { LineSplitter } from './line.splitter';
import { MediaError, MediaErrorCode } from './media.error';
import { ProcessSpawner, type SpawnedProcess, type StdioSlot } from './process.spawner';
import { Clock, type TimerHandle } from './system.clock';
import { redactUrls } from './url.redactor';

export interface FfmpegProcessOptions {
  binary: string;
  args: readonly string[];
  /** Child file descriptors (3 and up) opened as pipes that carry media data (`pipe:3`, `pipe:4`). */
  dataFds: readonly number[];
  /** No data byte on any data pipe for this long, while nobody holds ffmpeg back: STALLED. 0 disables. */
  stallTimeoutMs?: number;
  /** Wait between the polite stop ('q'), SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** stderr lines kept for error reports. */
  stderrTailLines?: number;
  /** Names the source in messages; must already be redacted. */
  label?: string;
  /** Every stderr line, redacted, as it arrives. */
  onStderrLine?: (line: string) => void;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last stderr lines, URLs redacted. */
  stderrTail: string[];
  /** True when kill() ran (by the owner or the watchdog) before ffmpeg ended on its own. */
  killed: boolean;
  /** Set when this object, not ffmpeg, decided the run failed: STALLED, or ffmpeg could not start. */
  failure?: MediaError;
}

/** A data pipe as child_process gives it: a net.Socket, whose bytesRead tells us ffmpeg wrote. */
type DataPipe = Readable & { readonly bytesRead?: number };

export const DEFAULT_STALL_TIMEOUT_MS = 15_000;
const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_STDERR_TAIL_LINES = 100;
/** stderr normally closes together with the process; do not wait forever if something holds it. */
const STDERR_DRAIN_MS = 1_000;

/**
 * One ffmpeg run: media on extra pipes, log on stderr, stdin kept open so it can be asked to
 * quit. Spawns in the constructor; `exited` always resolves (never rejects) once it is gone.
 */
export class FfmpegProcess {
  readonly exited: Promise<FfmpegExit>;

  private readonly child: SpawnedProcess;
  private readonly pipes = new Map<number, DataPipe>();
  private readonly tail: LineRing;
  private readonly splitter = new LineSplitter();
  private readonly stallTimeoutMs: number;
  private readonly killGraceMs: number;
  private resolveExited!: (exit: FfmpegExit) => void;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  private hasExited = false;
  private stderrClosed = false;
  private finished = false;
  private killRequested = false;
  private failure?: MediaError;
  private timers: TimerHandle[] = [];
  private watchdog?: TimerHandle;
  private lastBytes = 0;
  private lastActivity: number;

  constructor(
    private readonly options: FfmpegProcessOptions,
    spawner: ProcessSpawner = new ProcessSpawner(),
    private readonly clock: Clock = new Clock(),
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.tail = new LineRing(options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES);
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.lastActivity = clock.now();

    this.child = spawner.spawn(options.binary, options.args, stdioLayout(options.dataFds));
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
    this.child.on('error', (error) => this.onSpawnError(error));
    // Writing 'q' to a process that already quit raises EPIPE here; that is expected.
    this.child.stdin?.on('error', () => undefined);

    const stderr = this.child.stderr;
    if (stderr) {
      stderr.setEncoding('utf8');
      stderr.on('data', (text: string) => this.onStderrLines(this.splitter.push(text)));
      stderr.on('error', () => undefined);
      stderr.on('close', () => {
        this.onStderrLines(this.splitter.flush());
        this.stderrClosed = true;
        this.maybeFinish();
      });
    } else {
      this.stderrClosed = true;
    }

    for (const fd of options.dataFds) {
      const pipe = this.child.stdio[fd] as DataPipe | null | undefined;
      // Missing only when the spawn itself failed; `exited` reports that.
      if (!pipe) continue;
      // Errors reach whoever reads the pipe; without a listener an unread pipe's error would crash the process.
      pipe.on('error', () => undefined);
      this.pipes.set(fd, pipe);
    }

    if (this.stallTimeoutMs > 0) {
      const every = Math.max(10, Math.min(1_000, Math.floor(this.stallTimeoutMs / 4)));
      this.watchdog = clock.setInterval(() => this.checkStall(), every);
    }
  }

  /**
   * The readable end of a data pipe. Read it in paused mode (async iteration) for backpressure:
   * when its buffer is full Node stops reading, the OS pipe fills and ffmpeg blocks.
   */
  dataPipe(fd: number): Readable {
    if (!this.options.dataFds.includes(fd))
      throw new Error(`fd ${fd} is not a data pipe of this run`);
    return this.pipes.get(fd) ?? Readable.from([]);
  }

  get running(): boolean {
    return !this.hasExited && !this.finished;
  }

  /** The last stderr lines so far, redacted. */
  stderrTail(): string[] {
    return this.tail.lines();
  }

  /**
   * Stops ffmpeg: 'q' on stdin, then SIGTERM after the grace period, then SIGKILL. Safe to call
   * any number of times; every call gets the same exit.
   */
  kill(): Promise<FfmpegExit> {
    if (this.finished || this.killRequested) return this.exited;
    this.killRequested = true;
    this.stopWatchdog();
    if (this.hasExited) return this.exited;
    const stdin = this.child.stdin;
    if (stdin && stdin.writable) stdin.write('q');
    // ffmpeg blocked in write() on a full pipe cannot see 'q' nor act on SIGTERM; closing our
    // ends turns that write into EPIPE so it finishes at once. Nobody wants the data any more.
    for (const pipe of this.pipes.values()) pipe.destroy();
    this.timers.push(
      this.clock.setTimeout(() => {
        if (this.hasExited) return;
        this.child.kill('SIGTERM');
        this.timers.push(
          this.clock.setTimeout(() => {
            if (!this.hasExited) this.child.kill('SIGKILL');
          }, this.killGraceMs),
        );
      }, this.killGraceMs),
    );
    return this.exited;
  }

  private onStderrLines(lines: string[]): void {
    for (const raw of lines) {
      const line = redactUrls(raw);
      this.tail.push(line);
      this.options.onStderrLine?.(line);
    }
  }

  private checkStall(): void {
    if (!this.running || this.killRequested) return;
    const now = this.clock.now();
    let bytes = 0;
    let heldByConsumer = false;
    for (const pipe of this.pipes.values()) {
      bytes += pipe.bytesRead ?? 0;
      // A full buffer means Node stopped reading because the consumer is slow: ffmpeg is
      // waiting on us, not the other way round.
      if (!pipe.destroyed && pipe.readableLength >= pipe.readableHighWaterMark)
        heldByConsumer = true;
    }
    if (bytes !== this.lastBytes || heldByConsumer) {
      this.lastBytes = bytes;
      this.lastActivity = now;
      return;
    }
    if (now - this.lastActivity < this.stallTimeoutMs) return;
    const seconds = Math.round(this.stallTimeoutMs / 100) / 10;
    this.failure = new MediaError(
      MediaErrorCode.STALLED,
      `No media data from ${this.options.label ?? 'ffmpeg'} for ${seconds} s: the source stalled and ffmpeg was stopped`,
      this.tail.lines(),
    );
    void this.kill();
  }

  private onSpawnError(error: Error): void {
    // After a successful spawn, 'error' only reports a failed kill(); the exit still follows.
    if (this.child.pid !== undefined || this.finished) return;
    this.failure = new MediaError(
      MediaErrorCode.FFMPEG_NOT_FOUND,
      `Could not start ffmpeg at ${this.options.binary}: ${error.message}`,
    );
    this.hasExited = true;
    this.stderrClosed = true;
    this.maybeFinish();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.hasExited) return;
    this.hasExited = true;
    this.exitCode = code;
    this.exitSignal = signal;
    this.stopWatchdog();
    this.child.stdin?.destroy();
    if (!this.stderrClosed) {
      this.timers.push(
        this.clock.setTimeout(() => {
          this.stderrClosed = true;
          this.maybeFinish();
        }, STDERR_DRAIN_MS),
      );
    }
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.hasExited || !this.stderrClosed) return;
    this.finished = true;
    this.stopWatchdog();
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers = [];
    this.resolveExited({
      code: this.exitCode,
      signal: this.exitSignal,
      stderrTail: this.tail.lines(),
      killed: this.killRequested,
      failure: this.failure,
    });
  }

  private stopWatchdog(): void {
    if (this.watchdog === undefined) return;
    this.clock.clearInterval(this.watchdog);
    this.watchdog = undefined;
  }
}

function stdioLayout(dataFds: readonly number[]): StdioSlot[] {
  const highest = Math.max(2, ...dataFds);
  const layout: StdioSlot[] = [];
  for (let fd = 0; fd <= highest; fd++) {
    // stdin stays open for 'q'; stdout is unused because media goes to the extra pipes.
    layout.push(fd === 0 || fd === 2 || dataFds.includes(fd) ? 'pipe' : 'ignore');
  }
  return layout;
}
