import type { CanonicalClass, SecurityEvent, Severity } from '@app/contracts';

/** A file kept for an incident (snapshot, clip), stored elsewhere and found by `key`. */
export interface EvidenceRef {
  /** What it is to the operator ("snapshot", "clip"); one ref per name per event. */
  name: string;
  /** Where the blob store keeps it. */
  key: string;
  contentType: string;
  bytes: number;
  /** Lower-case hex, so a download can be checked. */
  sha256: string;
}

/** What the caller knows about an event besides the event itself. */
export interface EventMeta {
  /** Wall-clock ms when fusion decided the incident; the repository's clock when left out. */
  occurredAt?: number;
  /** Site, camera name… shown with the event; frozen at save time like the event. */
  streamLabels?: Record<string, string>;
  evidenceRefs?: EvidenceRef[];
}

export interface StoredEvent {
  /** Storage order, strictly increasing and never reused: the resume cursor. */
  seq: number;
  event: SecurityEvent;
  occurredAt: number;
  /** Wall-clock ms of the first save; a replay does not move it. */
  storedAt: number;
  streamLabels?: Record<string, string>;
  evidenceRefs: EvidenceRef[];
}

export interface SaveResult {
  seq: number;
  /** false when an event with this id was already stored (a replay): nothing changed. */
  inserted: boolean;
}

/** The filters Subscribe and ListEvents share; every one left out matches everything. */
export interface EventFilter {
  streamIds?: readonly string[];
  /** Matches the trigger or the class of any evidence. */
  classes?: readonly CanonicalClass[];
  minSeverity?: Severity;
  /** Its `site`: a site rule's incident, or a camera's own incident in that site. */
  sites?: readonly string[];
  /** Its `zone`: a zone rule's incident (a camera's own incident names only its site). */
  zones?: readonly string[];
}

export type EventOrder = 'newest-first' | 'oldest-first';

export interface ListEventsQuery extends EventFilter {
  /** Inclusive lower bound on occurredAt (ms). */
  from?: number;
  /** Exclusive upper bound on occurredAt (ms), so adjacent ranges never overlap. */
  to?: number;
  /** Default 50; more than 500 is served as 500. */
  pageSize?: number;
  /** From the previous page's `nextPageToken`, with the same filters and order. */
  pageToken?: string;
  /** Storage order (seq); default newest-first. */
  order?: EventOrder;
}

export interface EventPage {
  events: StoredEvent[];
  /** Absent on the last page. */
  nextPageToken?: string;
}

export interface SweepLimits {
  /** Delete events whose occurredAt is older than now - maxAgeMs. */
  maxAgeMs?: number;
  /** Keep at most this many events, deleting the oldest (by seq). */
  maxCount?: number;
  /** Defaults to the repository's clock. */
  now?: number;
}
