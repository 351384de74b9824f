import type { Bus, Subscription } from '@app/bus';
import { type DetectionSet, type Modality, Topics } from '@app/contracts';

/**
 * Holds a file's ingest back while what it published is not yet worked off downstream: the
 * broker then holds seconds of a file, not all of it. Live sources are never paced (they pace
 * themselves, and one held back would lose frames at the camera).
 */
export interface IngestPacer {
  /**
   * Resolves once `sec` of the stream's `modality` may be published: downstream has reached
   * within the lag bound of it, the signal aborted, or the pacer stopped.
   */
  admit(streamId: string, modality: Modality, sec: number, signal?: AbortSignal): Promise<void>;
}

export interface DetectionLagPacerOptions {
  /** Stream seconds a modality may be published ahead of the detections that came back for it. */
  maxLagSec: number;
  /** A consumer group of this process alone: every replica reads every stream's detections. */
  group: string;
}

/** Streams whose progress one ingest tracks at most; the least recently paced goes first. */
const MAX_STREAMS = 4096;

interface Progress {
  /** Per modality: the end of the latest detection set seen, or where pacing began. */
  reached: Partial<Record<Modality, number>>;
  wakers: Set<() => void>;
}

/**
 * Lag measured on what downstream publishes: the detection sets inference sends for every
 * window and frame, empty ones included. They are the end of the media path (after spectrogram
 * and inference), they come from whichever replica did the work, and a restart of any stage
 * changes nothing about how they are read: this process follows the detections topic from its
 * end with a group of its own (no commits), so it needs no consumer-group offsets of others and
 * no admin calls. A stream first seen here (started, or taken over after a restart) is paced
 * from the time it is first published at: nothing published before is waited for.
 */
export class DetectionLagPacer implements IngestPacer {
  private readonly streams = new Map<string, Progress>();
  private subscription?: Subscription;
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly options: DetectionLagPacerOptions,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.subscription = await this.bus.subscribe(
      Topics.detections,
      this.options.group,
      async ({ value }) => this.onDetections(value),
      { startFrom: 'latest', commits: false },
    );
  }

  /** Lets every waiting ingest go (a shutdown must not hang on a stalled downstream). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const progress of this.streams.values()) this.wake(progress);
    await this.subscription?.close();
    this.subscription = undefined;
  }

  async admit(
    streamId: string,
    modality: Modality,
    sec: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const progress = this.progressOf(streamId);
    progress.reached[modality] ??= sec;
    while (
      !this.stopped &&
      !signal?.aborted &&
      // Ended downstream or evicted: nothing will come back to wait for.
      this.streams.get(streamId) === progress &&
      sec - progress.reached[modality]! > this.options.maxLagSec
    ) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          progress.wakers.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        progress.wakers.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** How far downstream is behind the given time, per what came back (for logs and tests). */
  lagSec(streamId: string, modality: Modality, sec: number): number | undefined {
    const reached = this.streams.get(streamId)?.reached[modality];
    return reached === undefined ? undefined : sec - reached;
  }

  private onDetections(set: DetectionSet): void {
    const progress = this.streams.get(set.streamId);
    if (!progress) return; // not paced here
    if (set.final) {
      this.wake(progress);
      this.streams.delete(set.streamId);
      return;
    }
    const reached = progress.reached[set.modality];
    if (reached === undefined || set.endSec > reached) {
      progress.reached[set.modality] = set.endSec;
      this.wake(progress);
    }
  }

  private progressOf(streamId: string): Progress {
    let progress = this.streams.get(streamId);
    if (progress) {
      // Map order is recency order: re-insert, so eviction takes the stalest stream.
      this.streams.delete(streamId);
    } else {
      if (this.streams.size >= MAX_STREAMS) {
        const [oldest, evicted] = this.streams.entries().next().value!;
        this.streams.delete(oldest);
        this.wake(evicted);
      }
      progress = { reached: {}, wakers: new Set() };
    }
    this.streams.set(streamId, progress);
    return progress;
  }

  private wake(progress: Progress): void {
    for (const wake of [...progress.wakers]) wake();
  }
}
