import type { Headers } from '@app/bus';
import { EDGE_SEQ_HEADER } from './edge-copy.filter';

export interface IdleTimeouts {
  /** No detections for this long: the stream is reported stalled. */
  stalledSec: number;
  /** No detections for this long: the stream is decided as if it had ended. */
  endedSec: number;
  /**
   * The same for a stream an edge node sends (its detections carry an edge id): they stop
   * while the edge's uplink is down, and the edge holds them on disk meanwhile, so silence
   * says little about the camera. Deciding it as ended would close its incident and decide its
   * absence rules early, and what the spool delivers later would no longer match. Default:
   * endedSec.
   */
  edgeEndedSec?: number;
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
    if (
      !(timeouts.stalledSec > 0) ||
      !(timeouts.endedSec >= timeouts.stalledSec) ||
      !((timeouts.edgeEndedSec ?? timeouts.endedSec) >= timeouts.endedSec)
    ) {
      throw new Error(
        `stream idle timeouts: need 0 < stalledSec ≤ endedSec ≤ edgeEndedSec, got ${timeouts.stalledSec}, ${timeouts.endedSec} and ${timeouts.edgeEndedSec}`,
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
      const endedSec =
        watched.headers[EDGE_SEQ_HEADER] !== undefined
          ? (this.timeouts.edgeEndedSec ?? this.timeouts.endedSec)
          : this.timeouts.endedSec;
      if (idleSec >= endedSec) {
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
