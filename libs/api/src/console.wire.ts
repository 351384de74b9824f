/**
 * The web console's JSON, as it travels: one definition for the server that sends it
 * (ConsoleService, console.http-server) and the page that reads it (apps/console). Types only,
 * and no imports: the page compiles it for the browser, without Node's types or the server's.
 * The server's own records (history, contracts) must stay assignable to these, so a field the
 * server stops sending fails to compile there instead of reaching the page as `undefined`.
 */

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
/** Where an incident stands with the operators: `new` until someone acts on it. */
export type Disposition = 'new' | 'acknowledged' | 'resolved' | 'false_alarm';
export type IncidentState = 'opened' | 'updated' | 'escalated' | 'closed';

/** Who is signed in, and what the page may offer them. */
export interface Session {
  name: string;
  role: 'viewer' | 'operator';
  /** Sent back in `x-vigil-csrf` on every request that changes something. */
  csrf: string;
  canControlStreams: boolean;
}

/** An incident as the console lists it: its newest version, and where the operators are with it. */
export interface IncidentSummary {
  incidentId: string;
  /** The newest version's event id. */
  eventId: string;
  streamId: string;
  streamLabels: Record<string, string>;
  title: string;
  rule: string;
  severity: Severity;
  /** The incident's own life: opened, updated, escalated, closed. */
  state: IncidentState;
  version: number;
  trigger: string;
  triggers: string[];
  startSec: number;
  endSec: number;
  /** Wall-clock ms of the newest version. */
  updatedAt: number;
  disposition: Disposition;
  evidence: string[];
  /** The site of a site camera's incident or of a site rule's; the zone likewise. */
  site?: string;
  zone?: string;
  /** A site rule's incident: its cameras, earliest first. */
  cameras?: string[];
  /** A camera's incident that the site incident with this id took in (it notified instead). */
  absorbedBy?: string;
}

/** One detection an incident version lists as its evidence. */
export interface Detection {
  cls: string;
  modality: string;
  score: number;
  atSec: number;
  box?: readonly number[];
  /** The camera, in a site incident. */
  streamId?: string;
}

export interface IncidentAction {
  /** Storage order, never reused: the live feed's resume cursor. */
  seq: number;
  incidentId: string;
  action: 'acknowledge' | 'resolve' | 'false_alarm';
  note: string;
  actor: string;
  role: string;
  /** Wall-clock ms. */
  at: number;
}

/** A stream and class an operator's "false alarm" silenced for a while. */
export interface Suppression {
  id: number;
  streamId: string;
  cls: string;
  /** Wall-clock ms; the suppression no longer holds from then. */
  until: number;
  incidentId: string;
  createdBy: string;
  createdAt: number;
  liftedBy?: string;
  liftedAt?: number;
}

export interface IncidentVersion {
  eventId: string;
  version: number;
  state: IncidentState;
  severity: Severity;
  rule: string;
  title: string;
  trigger: string;
  triggers: string[];
  startSec: number;
  endSec: number;
  occurredAt: number;
  detections: Detection[];
}

export interface IncidentDetail {
  incident: IncidentSummary;
  versions: IncidentVersion[];
  actions: IncidentAction[];
  evidence: { name: string; contentType: string; bytes: number; url: string }[];
  /** What holds on the incident's stream now. */
  suppressions: Suppression[];
}

/** A stream as the console lists it: where it stands among the configured sites, if anywhere. */
export interface StreamInfo {
  streamId: string;
  /** Redacted. */
  source: string;
  state: string;
  live: boolean;
  loop: boolean;
  reason?: string;
  decodedSec?: number;
  startedAt: number;
  updatedAt: number;
  labels: Record<string, string>;
  site?: string;
  zone?: string;
}

/** A configured site (config `sites`): its zones' cameras and its cameras in no zone. */
export interface SiteInfo {
  id: string;
  zones: { id: string; streams: string[] }[];
  streams: string[];
}

/** What a live console hears, in the order it happened. */
export type Change =
  | { type: 'incident'; eventSeq: number; incident: IncidentSummary }
  | { type: 'action'; actionSeq: number; action: IncidentAction; incident: IncidentSummary }
  /** A stream's state now; not replayed on reconnect (the console reloads the list). */
  | { type: 'stream'; stream: StreamInfo }
  /** Every suppression that holds now, after one was added or lifted. */
  | { type: 'suppression'; suppressions: Suppression[] };
