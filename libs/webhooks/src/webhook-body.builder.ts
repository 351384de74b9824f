import { eventRecordMessage, toProtoJson } from '@app/contracts';
import type { EvidenceRef, StoredEvent } from '@app/history';

/** Where a receiver downloads an evidence file; undefined leaves the link out. */
export type EvidenceLinker = (eventId: string, ref: EvidenceRef) => string | undefined;

export const WEBHOOK_BODY_TYPE = 'vigil.incident';
export const WEBHOOK_BODY_VERSION = 2;
export const WEBHOOK_PAYLOAD_MESSAGE = 'vigil.v1.WebhookPayload';

/**
 * The JSON posted to every subscriber: vigil.v1.WebhookPayload in the proto3 JSON mapping.
 * `record` is the EventRecord EventService serves for the event, field for field, so its
 * shape is the .proto's, not this type's: a field added to SecurityEvent shows up here without
 * a change to this file. Receivers deduplicate on `record.event.id`.
 */
export interface WebhookBody {
  type: typeof WEBHOOK_BODY_TYPE;
  version: typeof WEBHOOK_BODY_VERSION;
  record: Record<string, unknown> & { event: Record<string, unknown> & { id: string } };
  evidenceUrls: Record<string, string>;
}

/**
 * Builds the body from a stored event, generated from the message definition rather than
 * listed field by field. The same event serialises to the same bytes (fields in number order,
 * map keys sorted): the outbox stores them once and every attempt signs exactly what it stored.
 */
export class WebhookBodyBuilder {
  constructor(private readonly link: EvidenceLinker = () => undefined) {}

  build(stored: StoredEvent): WebhookBody {
    const evidenceUrls: Record<string, string> = {};
    for (const ref of stored.evidenceRefs) {
      const url = this.link(stored.event.id, ref);
      if (url !== undefined) evidenceUrls[ref.name] = url;
    }
    return toProtoJson(WEBHOOK_PAYLOAD_MESSAGE, {
      type: WEBHOOK_BODY_TYPE,
      version: WEBHOOK_BODY_VERSION,
      record: eventRecordMessage(stored),
      evidenceUrls,
    }) as unknown as WebhookBody;
  }

  /** The exact bytes to sign and post, as UTF-8 JSON text. */
  serialize(stored: StoredEvent): string {
    return JSON.stringify(this.build(stored));
  }
}
