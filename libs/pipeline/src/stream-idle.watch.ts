import type { Headers } from '@app/bus';

export interface IdleTimeouts {
  /** No detections for this long: the stream is reported stalled. */
  stalledSec: number;
  /** No detections for this long: the stream is decided as if it had ended. */
  endedSec: number;
}

interface Watched {
  lastSeenMs: number;
  stalled: boolean;
  /** The last message's headers: the stream's rules profile and run ride on them. */
  headers: Headers;
}

export interface IdleVerdicts {
  stalled: { streamId: string; headers: Headers }[];
  ended: { streamId: string; headers: Headers }[];
}

/**
 * How long each stream has gone without detections, on the wall clock. A stream whose media
 * stop without an end of stream (ingest died for good, a camera that went silent upstream)
 * would otherwise keep its absence rules undecided and its incident open forever. Clock-free
 * itself: the caller says what time it is.
 */
export class StreamIdleWatch {
  private readonly streams = new Map<string, Watched>();

  constructor(private readonly timeouts: IdleTimeouts) {
    if (!(timeouts.stalledSec > 0) || !(timeouts.endedSec >= timeouts.stalledSec)) {
      throw new Error(
        `stream idle timeouts: need 0 < stalledSec ≤ endedSec, got ${timeouts.stalledSec} and ${timeouts.endedSec}`,
      );
    }
  }

  /** Detections arrived; true when the stream had been reported stalled (it resumed). */
  seen(streamId: string, headers: Headers, nowMs: number): boolean {
    const known = this.streams.get(streamId);
    this.streams.set(streamId, { lastSeenMs: nowMs, stalled: false, headers });
    return known?.stalled ?? false;
  }

  /** The stream ended properly: nothing to watch. */
  forget(streamId: string): void {
    this.streams.delete(streamId);
  }

  /** Streams that went stalled since the last call, and those now given up (forgotten). */
  check(nowMs: number): IdleVerdicts {
    const verdicts: IdleVerdicts = { stalled: [], ended: [] };
    for (const [streamId, watched] of this.streams) {
      const idleSec = (nowMs - watched.lastSeenMs) / 1000;
      if (idleSec >= this.timeouts.endedSec) {
        verdicts.ended.push({ streamId, headers: watched.headers });
        this.streams.delete(streamId);
      } else if (idleSec >= this.timeouts.stalledSec && !watched.stalled) {
        watched.stalled = true;
        verdicts.stalled.push({ streamId, headers: watched.headers });
      }
    }
    return verdicts;
  }
}
