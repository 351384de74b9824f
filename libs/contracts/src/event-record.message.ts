import type { SecurityEvent } from './messages';

/** A stored incident as the API and the webhooks show it; the history's StoredEvent is one. */
export interface EventRecordSource {
  event: SecurityEvent;
  /** Wall-clock ms. */
  occurredAt: number;
  storedAt: number;
  streamLabels?: Record<string, string>;
  evidenceRefs: readonly { name: string; contentType: string; bytes: number; sha256: string }[];
}

const enumValue = (prefix: string, value: string) => `${prefix}_${value.toUpperCase()}`;

/**
 * SecurityEvent → the plain object protobufjs (Kafka) and proto-loader (gRPC) take for
 * vigil.v1.SecurityEvent. Fields travel by name: one added to the message and to the type
 * reaches Kafka, the API and the webhooks with no line here, unless it needs converting (an
 * enum, like severity). One function for all three, so they cannot drift apart.
 */
export function securityEventMessage(event: SecurityEvent) {
  return {
    ...event,
    severity: enumValue('SEVERITY', event.severity),
    state: enumValue('INCIDENT_STATE', event.state),
    evidence: event.evidence.map((e) => ({
      ...e,
      modality: enumValue('MODALITY', e.modality),
      box: e.box ?? [],
    })),
  };
}

/** A stored incident → vigil.v1.EventRecord, what EventService serves and webhooks carry. */
export function eventRecordMessage(record: EventRecordSource) {
  return {
    event: securityEventMessage(record.event),
    occurredAtMs: record.occurredAt,
    storedAtMs: record.storedAt,
    streamLabels: record.streamLabels ?? {},
    // Picked, not spread: a stored ref also holds the blob store's key, which is ours alone.
    evidence: record.evidenceRefs.map(({ name, contentType, bytes, sha256 }) => ({
      name,
      contentType,
      bytes,
      sha256,
    })),
  };
}
