import type { DetectionSet, SecurityEvent, StreamState } from '@app/contracts';
import type { StoredEvent } from '@app/history';

/**
 * What the controllers need from the deployment they run in. Abstract classes, so they double
 * as Nest injection tokens: `vigil serve` binds the in-process implementations, the ingest and
 * fusion services bind theirs, and unit tests bind strict mocks.
 */

/** A stream as StartStream asked for it. */
export interface StreamSpec {
  streamId: string;
  source: string;
  live: boolean;
  /** A file plays again from the start when it ends. */
  loop: boolean;
  fps: number;
  models: string[];
  rulesProfile: string;
  labels: Record<string, string>;
  /** The caller's idempotency key: a retried StartStream answers the stream it started. */
  requestId?: string;
}

export interface StreamInfo extends Omit<StreamSpec, 'source'> {
  /** Redacted. */
  source: string;
  state: StreamState;
  hasAudio?: boolean;
  hasVideo?: boolean;
  decodedSec?: number;
  /** Live frames dropped before the detector because it was behind (where known). */
  framesDropped?: number;
  reason?: string;
  startedAt: number;
  updatedAt: number;
}

export abstract class StreamControl {
  /** ALREADY_EXISTS when running, RESOURCE_EXHAUSTED over the stream limit. */
  abstract start(spec: StreamSpec): Promise<StreamInfo>;
  /** NOT_FOUND when unknown. */
  abstract stop(streamId: string): Promise<StreamInfo>;
  abstract get(streamId: string): StreamInfo | undefined;
  abstract list(): StreamInfo[];
  /**
   * Hears each change of a stream's state where this process follows them (the web console
   * pushes it); the default hears nothing.
   */
  onChange(_listener: (info: StreamInfo) => void): () => void {
    return () => undefined;
  }
  /** What StartStream may ask for; local files only under `mediaRoots`. */
  abstract capabilities(): {
    models: string[];
    rulesProfiles: string[];
    fps: number;
    mediaRoots: string[];
  };
}

/**
 * Wakes live Subscribe calls. They read the history by cursor, so nothing is queued here; a
 * caught-up call may take the event that woke it straight from `nextAfter`.
 */
export abstract class EventSignal {
  abstract waitForSeqAfter(seq: number, signal: AbortSignal): Promise<void>;
  /** The newest stored event if it directly follows `seq`, else undefined. */
  abstract nextAfter(seq: number): StoredEvent | undefined;
}

export interface ClipRequest {
  /** A file the server wrote the upload to. */
  path: string;
  name: string;
  fps?: number;
  rulesProfile: string;
}

export interface ClipSink {
  detections(set: DetectionSet): void;
  incident(event: SecurityEvent): void;
}

export interface ClipSummary {
  streamId: string;
  decodedSec: number;
  hasAudio: boolean;
  hasVideo: boolean;
  truncated: boolean;
  incidents: number;
}

export abstract class ClipAnalyzer {
  abstract capabilities(): { models: string[]; rulesProfiles: string[]; fps: number };
  abstract analyze(request: ClipRequest, sink: ClipSink, signal: AbortSignal): Promise<ClipSummary>;
}
