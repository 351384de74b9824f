import type { CanonicalClass, Modality, Severity } from '@app/contracts';
import type { EvidenceRef, StoredEvent } from '@app/history';

/** Where a receiver downloads an evidence file; undefined leaves the link out. */
export type EvidenceLinker = (eventId: string, ref: EvidenceRef) => string | undefined;

export interface WebhookDetection {
  class: CanonicalClass;
  modality: Modality;
  score: number;
  atSec: number;
  /** Pixel box in the source frame, [x1, y1, x2, y2]; video only. */
  box?: [number, number, number, number];
}

export interface WebhookEvidence {
  name: string;
  contentType: string;
  bytes: number;
  sha256: string;
  url?: string;
}

/** The JSON posted to every subscriber, version 1. Receivers deduplicate on `eventId`. */
export interface WebhookBody {
  type: 'vigil.incident';
  version: 1;
  eventId: string;
  streamId: string;
  /** Camera labels (site, camera name…) as configured when the event was stored. */
  labels: Record<string, string>;
  rule: string;
  title: string;
  /** The class that triggered the rule. */
  class: CanonicalClass;
  severity: Severity;
  /** Stream seconds. */
  startSec: number;
  endSec: number;
  /** Wall clock, ISO 8601 UTC. */
  occurredAt: string;
  detections: WebhookDetection[];
  evidence: WebhookEvidence[];
}

export const WEBHOOK_BODY_TYPE = 'vigil.incident';
export const WEBHOOK_BODY_VERSION = 1;

/**
 * Builds the body from a stored event. Keys always come in the same order (labels sorted), so
 * the same event serialises to the same bytes: the outbox stores them once and every attempt
 * signs exactly what it stored.
 */
export class WebhookBodyBuilder {
  constructor(private readonly link: EvidenceLinker = () => undefined) {}

  build(stored: StoredEvent): WebhookBody {
    const { event } = stored;
    const labels: Record<string, string> = {};
    for (const name of Object.keys(stored.streamLabels ?? {}).sort()) {
      labels[name] = stored.streamLabels![name];
    }
    return {
      type: WEBHOOK_BODY_TYPE,
      version: WEBHOOK_BODY_VERSION,
      eventId: event.id,
      streamId: event.streamId,
      labels,
      rule: event.rule,
      title: event.title,
      class: event.trigger,
      severity: event.severity,
      startSec: event.startSec,
      endSec: event.endSec,
      occurredAt: new Date(stored.occurredAt).toISOString(),
      detections: event.evidence.map((e) => ({
        class: e.cls,
        modality: e.modality,
        score: e.score,
        atSec: e.atSec,
        ...(e.box ? { box: [e.box[0], e.box[1], e.box[2], e.box[3]] } : {}),
      })),
      evidence: stored.evidenceRefs.map((ref) => {
        const url = this.link(event.id, ref);
        return {
          name: ref.name,
          contentType: ref.contentType,
          bytes: ref.bytes,
          sha256: ref.sha256,
          ...(url === undefined ? {} : { url }),
        };
      }),
    };
  }

  /** The exact bytes to sign and post, as UTF-8 JSON text. */
  serialize(stored: StoredEvent): string {
    return JSON.stringify(this.build(stored));
  }
}
