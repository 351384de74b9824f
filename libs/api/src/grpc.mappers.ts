import type { Detection, DetectionSet, EventEvidence, SecurityEvent } from '@app/contracts';
import type { StoredEvent } from '@app/history';
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

function grpcEvidence(e: EventEvidence) {
  return {
    cls: e.cls,
    modality: enumName('MODALITY', e.modality),
    score: e.score,
    atSec: e.atSec,
    box: e.box ?? [],
  };
}

export function grpcEvent(event: SecurityEvent) {
  return {
    id: event.id,
    streamId: event.streamId,
    rule: event.rule,
    title: event.title,
    severity: enumName('SEVERITY', event.severity),
    startSec: event.startSec,
    endSec: event.endSec,
    trigger: event.trigger,
    evidence: event.evidence.map(grpcEvidence),
    incidentId: event.incidentId,
    version: event.version,
    state: enumName('INCIDENT_STATE', event.state),
    triggers: event.triggers,
  };
}

export function grpcEventRecord(stored: StoredEvent) {
  return {
    event: grpcEvent(stored.event),
    occurredAtMs: stored.occurredAt,
    storedAtMs: stored.storedAt,
    streamLabels: stored.streamLabels ?? {},
    evidence: stored.evidenceRefs.map((ref) => ({
      name: ref.name,
      contentType: ref.contentType,
      bytes: ref.bytes,
      sha256: ref.sha256,
    })),
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
    reason: info.reason ?? '',
    startedAtMs: info.startedAt,
    updatedAtMs: info.updatedAt,
  };
}
