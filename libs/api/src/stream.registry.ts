import type { StreamStatus } from '@app/contracts';
import { redactUrl } from '@app/media';
import type { StreamInfo, StreamSpec } from './api.ports';

/** Finished streams kept for GetStream/ListStreams; the oldest go first. */
const DEFAULT_MAX_FINISHED = 1000;

/**
 * What the API knows about streams: the spec StartStream accepted, updated by the status
 * messages ingest publishes. It reads statuses from the bus, so it holds for streams started
 * by another replica or by `vigil stream start` too.
 */
export class StreamRegistry {
  private readonly streams = new Map<string, StreamInfo>();
  private readonly listeners = new Set<(info: StreamInfo) => void>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxFinished = DEFAULT_MAX_FINISHED,
  ) {}

  /** A stream about to start (`starting` until ingest opened its source); it counts as running. */
  register(spec: StreamSpec): StreamInfo {
    const at = this.now();
    const info: StreamInfo = {
      ...spec,
      source: redactUrl(spec.source),
      state: 'starting',
      startedAt: at,
      updatedAt: at,
    };
    this.streams.delete(spec.streamId); // re-insert: Map order is age order for pruning
    this.streams.set(spec.streamId, info);
    this.prune();
    this.notify(info);
    return info;
  }

  /**
   * `requestId`: the idempotency key of the start command the status's run came from, when it
   * had one (its statuses carry it in a header).
   */
  apply(
    status: StreamStatus,
    defaults: Omit<StreamSpec, 'streamId' | 'source'>,
    requestId?: string,
  ): StreamInfo {
    const at = this.now();
    const known = this.streams.get(status.streamId);
    const info: StreamInfo = {
      ...(known ?? { ...defaults, streamId: status.streamId, startedAt: at }),
      ...(requestId ? { requestId } : {}),
      source: status.source || known?.source || '',
      state: status.state,
      hasAudio: status.hasAudio ?? known?.hasAudio,
      hasVideo: status.hasVideo ?? known?.hasVideo,
      decodedSec: status.decodedSec ?? known?.decodedSec,
      reason: status.reason,
      updatedAt: at,
    };
    if (!known) this.streams.set(status.streamId, info);
    else Object.assign(known, info);
    this.prune();
    this.notify(known ?? info);
    return known ?? info;
  }

  /** Hears every change of a stream's state (a copy); returns the unsubscribe. */
  onChange(listener: (info: StreamInfo) => void): () => void {
    const registered = (info: StreamInfo) => listener(info);
    this.listeners.add(registered);
    return () => void this.listeners.delete(registered);
  }

  private notify(info: StreamInfo): void {
    for (const listener of [...this.listeners]) listener({ ...info });
  }

  get(streamId: string): StreamInfo | undefined {
    const info = this.streams.get(streamId);
    return info && { ...info };
  }

  list(): StreamInfo[] {
    return [...this.streams.values()].map((info) => ({ ...info }));
  }

  /** The stream a start with this idempotency key already made, if any: a retry's answer. */
  startedBy(streamId: string, requestId: string | undefined): StreamInfo | undefined {
    const info = this.streams.get(streamId);
    return requestId !== undefined && info?.requestId === requestId ? { ...info } : undefined;
  }

  isRunning(streamId: string): boolean {
    const state = this.streams.get(streamId)?.state;
    return (
      state === 'starting' || state === 'started' || state === 'reconnecting' || state === 'stalled'
    );
  }

  runningCount(): number {
    return [...this.streams.keys()].filter((id) => this.isRunning(id)).length;
  }

  private prune(): void {
    let finished = this.streams.size - this.runningCount();
    for (const [id] of this.streams) {
      if (finished <= this.maxFinished) return;
      if (!this.isRunning(id)) {
        this.streams.delete(id);
        finished--;
      }
    }
  }
}
