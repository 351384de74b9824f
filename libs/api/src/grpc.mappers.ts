import {
  type Detection,
  type DetectionSet,
  eventRecordMessage,
  securityEventMessage,
} from '@app/contracts';
import type { DeadDelivery } from '@app/webhooks';
import type { StreamInfo } from './api.ports';

/**
 * Our TypeScript shapes → the plain objects @grpc/proto-loader encodes (PROTO_LOADER_OPTIONS:
 * camelCase fields, enums by their proto names). Kept beside the controllers because these
 * are the API's wire shapes, not the Kafka codecs'.
 */
const enumName = (prefix: string, value: string) => `${prefix}_${value.toUpperCase()}`;

export function grpcDetection(d: Detection) {
  return {
    modality: enumName('MODALITY', d.modality),
    cls: d.cls,
    score: d.score,
    labels: d.labels,
    box: d.box ?? [],
  };
}

export function grpcDetectionSet(set: DetectionSet) {
  return {
    streamId: set.streamId,
    modality: enumName('MODALITY', set.modality),
    seq: set.seq,
    startSec: set.startSec,
    endSec: set.endSec,
    atSec: set.atSec,
    model: set.model,
    detections: set.detections.map(grpcDetection),
    final: set.final ?? false,
  };
}

/** One mapping for Kafka, the API and the webhooks: see libs/contracts. */
export const grpcEvent = securityEventMessage;

export const grpcEventRecord = eventRecordMessage;

export function grpcDeadLetter(dead: DeadDelivery) {
  return {
    deliveryId: dead.deliveryId,
    subscriptionId: dead.subscriptionId,
    url: dead.url,
    eventId: dead.eventId,
    attempts: dead.attempts,
    reason: dead.reason,
    ...(dead.lastStatus !== undefined ? { lastStatus: dead.lastStatus } : {}),
    queuedAtMs: dead.createdAt,
    failedAtMs: dead.failedAt,
    published: dead.publishedAt !== undefined,
  };
}

export function grpcStream(info: StreamInfo) {
  return {
    streamId: info.streamId,
    source: info.source,
    state: enumName('STREAM_STATE', info.state),
    live: info.live,
    loop: info.loop,
    fps: info.fps,
    models: info.models,
    rulesProfile: info.rulesProfile,
    labels: info.labels,
    ...(info.hasAudio !== undefined ? { hasAudio: info.hasAudio } : {}),
    ...(info.hasVideo !== undefined ? { hasVideo: info.hasVideo } : {}),
    decodedSec: info.decodedSec ?? 0,
    framesDropped: info.framesDropped ?? 0,
    reason: info.reason ?? '',
    startedAtMs: info.startedAt,
    updatedAtMs: info.updatedAt,
  };
}
