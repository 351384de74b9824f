import type {
  AudioChunk,
  AudioFeatureWindow,
  DetectionSet,
  EdgeEvidence,
  FusionCheckpoint,
  SecurityEvent,
  StreamCommand,
  StreamStatus,
  VideoFrame,
  WebhookDeadLetter,
} from './messages';

/**
 * A topic name carrying its payload type, so publish and subscribe agree at compile time.
 * The phantom `__payload` is never set at run time.
 */
export interface Topic<T> {
  readonly name: string;
  readonly __payload?: T;
}

function topic<T>(name: string): Topic<T> {
  return { name };
}

export const Topics = {
  audio: topic<AudioChunk>('vigil.media.audio'),
  video: topic<VideoFrame>('vigil.media.video'),
  features: topic<AudioFeatureWindow>('vigil.features.audio'),
  detections: topic<DetectionSet>('vigil.detections'),
  events: topic<SecurityEvent>('vigil.events'),
  streamStatus: topic<StreamStatus>('vigil.streams.status'),
  streamCommands: topic<StreamCommand>('vigil.streams.commands'),
  /** Webhook deliveries given up on; a protobuf topic of its own despite the `.dlq` suffix. */
  webhookDeadLetters: topic<WebhookDeadLetter>('vigil.webhooks.dlq'),
  /** Fusion's per-stream state (compacted, keyed by stream id), read only by fusion. */
  fusionState: topic<FusionCheckpoint>('vigil.fusion.state'),
  /** Incidents' evidence rendered on edge nodes, which send no media (evidence.proto). */
  edgeEvidence: topic<EdgeEvidence>('vigil.evidence.edge'),
} as const;

/**
 * Topics Kafka keeps the latest message of per key, with their cleanup policy. Fusion's state is
 * kept however old. The stream status topic is the record of every stream (ingest's ledger and
 * the API's stream list are folded from it): compacted, a reader replays one status per stream
 * instead of every checkpoint of the last week, and with `delete` as well a stream silent for the
 * topic's retention is forgotten, so one-off clip analyses do not pile up for ever.
 */
export const COMPACTED_TOPICS: ReadonlyMap<string, 'compact' | 'compact,delete'> = new Map([
  [Topics.fusionState.name, 'compact'],
  [Topics.streamStatus.name, 'compact,delete'],
]);

/** Segments of compacted topics roll hourly: the cleaner compacts all but the newest hour. */
export const COMPACTED_SEGMENT_MS = 3_600_000;

export function deadLetterTopic<T>(source: Topic<T>): Topic<Uint8Array> {
  return { name: `${source.name}.dlq` };
}
