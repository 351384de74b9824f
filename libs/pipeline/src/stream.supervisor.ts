import { randomUUID } from 'node:crypto';
import { withLogContext } from '@app/logging';
import { MediaErrorCode, isMediaError, redactUrl } from '@app/media';
import { HANDED_OVER, type IngestStage } from './ingest.stage';
import { RUN_HEADER } from './stream-headers';

export interface StreamRequest {
  streamId: string;
  source: string;
  /**
   * Live network sources reconnect with backoff when they fail or end. A live file is paced at
   * real time and ends once, unless `loop`: then each pass is a run of its own.
   */
  live?: boolean;
  loop?: boolean;
  /** Frames per second for this stream; the stage's default when left out. */
  fps?: number;
  /** Modalities to decode; both by default. */
  audio?: boolean;
  video?: boolean;
  /** Travel with every message of the stream (labels, rules profile). */
  headers?: Record<string, string>;
  /**
   * A stream another ingest was running (it died, or its partition moved here): go on from
   * the stream time it reached, with the headers its messages carried (correlation id, run),
   * so what follows continues the same stream, ids included.
   */
  resume?: { atSec: number; headers: Record<string, string> };
}

/** How a stream left this supervisor: closed downstream, or handed over to another ingest. */
export type StreamOutcome = 'closed' | 'handed-over';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Reconnects before a live stream is declared failed; Infinity keeps trying. */
  maxRetries: number;
}

/** Waiting behind a class: tests drive reconnects without real delays. */
export interface Sleeper {
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realSleeper: Sleeper = {
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    }),
};

/**
 * Which failures of a live source are worth a reconnect. Every media error code is decided
 * here; a new code that is not fails to compile.
 */
const RETRY: Record<MediaErrorCode, boolean> = {
  [MediaErrorCode.SOURCE_UNREACHABLE]: true,
  [MediaErrorCode.STALLED]: true,
  [MediaErrorCode.DECODE_FAILED]: true,
  [MediaErrorCode.SOURCE_NOT_FOUND]: true, // a camera that restarts answers 404 for a while
  [MediaErrorCode.UNSUPPORTED_INPUT]: false,
  [MediaErrorCode.PROTOCOL_NOT_ALLOWED]: false,
  [MediaErrorCode.FFMPEG_NOT_FOUND]: false,
  [MediaErrorCode.ABORTED]: false,
};

interface Running {
  controller: AbortController;
  done: Promise<StreamOutcome>;
}

/**
 * Runs streams through ingest: one at most per stream id, stoppable, and for live sources
 * reconnecting with exponential backoff and jitter while saying so on the status topic.
 */
export class StreamSupervisor {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly ingest: IngestStage,
    private readonly backoff: BackoffOptions = {
      initialMs: 1_000,
      maxMs: 30_000,
      maxRetries: Infinity,
    },
    private readonly sleeper: Sleeper = realSleeper,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** False when the stream is already running. */
  start(request: StreamRequest): boolean {
    if (this.running.has(request.streamId)) return false;
    const controller = new AbortController();
    // Whatever the run logs, reconnects included, names its stream.
    const done = withLogContext({ streamId: request.streamId }, () =>
      this.supervise(request, controller.signal),
    )
      .then((): StreamOutcome =>
        controller.signal.reason === HANDED_OVER ? 'handed-over' : 'closed',
      )
      .finally(() => this.running.delete(request.streamId));
    this.running.set(request.streamId, { controller, done });
    return true;
  }

  /** False when no such stream runs. Resolves once the stream is closed downstream. */
  async stop(streamId: string): Promise<boolean> {
    const run = this.running.get(streamId);
    if (!run) return false;
    run.controller.abort();
    await run.done;
    return true;
  }

  /**
   * Stops a stream without ending it downstream: another ingest resumes it from its last
   * checkpoint. False when no such stream runs.
   */
  async handOver(streamId: string): Promise<boolean> {
    const run = this.running.get(streamId);
    if (!run) return false;
    run.controller.abort(HANDED_OVER);
    await run.done;
    return true;
  }

  active(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Resolves when the stream ends by itself (file finished, live source given up), is stopped
   * or handed over, saying which; undefined when it does not run here.
   */
  whenDone(streamId: string): Promise<StreamOutcome | undefined> {
    return this.running.get(streamId)?.done ?? Promise.resolve(undefined);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.active().map((id) => this.stop(id)));
  }

  async handOverAll(): Promise<void> {
    await Promise.all(this.active().map((id) => this.handOver(id)));
  }

  private async supervise(request: StreamRequest, signal: AbortSignal): Promise<void> {
    const { streamId, source } = request;
    const live = request.live ?? false;
    const file = isLocalFile(source);
    let headers: Record<string, string> = request.resume
      ? { ...request.headers, ...request.resume.headers }
      : {
          ...request.headers,
          'x-correlation-id': randomUUID(),
          // A live source's stream time starts at 0 on every start: its event ids are scoped to
          // this run, and stay the same through reconnects within it.
          ...(request.live ? { [RUN_HEADER]: String(this.now()) } : {}),
        };
    // A live source cannot seek: it reconnects and its stream time goes on from where it was.
    // A file picks up at the very chunk and frame it reached.
    let offset = live ? (request.resume?.atSec ?? 0) : 0;
    let resumeAtSec = live ? undefined : request.resume?.atSec;
    let attempt = 0;
    let reachedSec = offset;
    const close = (state: 'ended' | 'failed', reason: string) =>
      this.ingest.close(
        streamId,
        { streamId, state, source: redactUrl(source), decodedSec: reachedSec, reason },
        headers,
      );
    for (;;) {
      let reached = offset;
      try {
        const result = await this.ingest.run({
          streamId,
          source,
          live,
          fps: request.fps,
          audio: request.audio,
          video: request.video,
          signal,
          headers,
          timeOffsetSec: offset,
          ...(resumeAtSec ? { resumeAtSec } : {}),
          closeStream: !live,
          onProgress: (sec) => {
            reached = Math.max(reached, sec);
            reachedSec = reached;
          },
        });
        resumeAtSec = undefined;
        if (!live || signal.aborted) return;
        offset += result.decodedSec;
        attempt = 0; // it ran to an end: a fresh streak of reconnects
        if (file) {
          // A live file is a camera that ends: once, unless asked to loop. Each pass is a run
          // of its own (own event ids); its stream time goes on, so fusion's clock never runs back.
          if (!request.loop) return close('ended', 'end of file');
          headers = { ...headers, [RUN_HEADER]: String(this.now()) };
        }
        continue;
      } catch (error) {
        // A file's run closes its stream itself (as ended when stopped, failed otherwise).
        if (!live || signal.reason === HANDED_OVER) return;
        reachedSec = reached;
        if (signal.aborted) return close('ended', 'stopped');
        const message = (error as Error).message;
        const retryable = isMediaError(error) && RETRY[error.code];
        if (!retryable || attempt >= this.backoff.maxRetries) return close('failed', message);
        attempt += 1;
        offset = reached;
        await this.ingest.status(
          { streamId, state: 'reconnecting', source: redactUrl(source), reason: message },
          headers,
        );
        await this.sleeper.sleep(this.delayMs(attempt), signal);
        if (signal.reason === HANDED_OVER) return;
        if (signal.aborted) return close('ended', 'stopped');
      }
    }
  }

  /** Exponential backoff with full jitter, so cameras that dropped together do not reconnect together. */
  private delayMs(attempt: number): number {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }
}

/** A path or file: URL, not a network source (two+ letter scheme, so C:\\ stays a path). */
function isLocalFile(source: string): boolean {
  return /^file:/i.test(source) || !/^[a-z][a-z0-9+.-]+:/i.test(source);
}
