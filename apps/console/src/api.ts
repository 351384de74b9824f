/** The console's JSON API, same origin; the session cookie travels by itself. */

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type Disposition = 'new' | 'acknowledged' | 'resolved' | 'false_alarm';

export interface Session {
  name: string;
  role: 'viewer' | 'operator';
  csrf: string;
  canControlStreams: boolean;
}

export interface IncidentSummary {
  incidentId: string;
  eventId: string;
  streamId: string;
  streamLabels: Record<string, string>;
  title: string;
  rule: string;
  severity: Severity;
  state: 'opened' | 'updated' | 'escalated' | 'closed';
  version: number;
  trigger: string;
  triggers: string[];
  startSec: number;
  endSec: number;
  updatedAt: number;
  disposition: Disposition;
  evidence: string[];
  site?: string;
  zone?: string;
  /** A site rule's incident: its cameras, earliest first. */
  cameras?: string[];
  /** A camera's incident a site incident took in: that incident's id. */
  absorbedBy?: string;
}

export interface Detection {
  cls: string;
  modality: string;
  score: number;
  atSec: number;
  box?: number[];
  /** The camera, in a site incident. */
  streamId?: string;
}

export interface IncidentAction {
  seq: number;
  incidentId: string;
  action: 'acknowledge' | 'resolve' | 'false_alarm';
  note: string;
  actor: string;
  role: string;
  at: number;
}

export interface IncidentDetail {
  incident: IncidentSummary;
  versions: {
    eventId: string;
    version: number;
    state: string;
    severity: Severity;
    rule: string;
    title: string;
    trigger: string;
    triggers: string[];
    startSec: number;
    endSec: number;
    occurredAt: number;
    detections: Detection[];
  }[];
  actions: IncidentAction[];
  evidence: { name: string; contentType: string; bytes: number; url: string }[];
  suppressions: Suppression[];
}

export interface StreamInfo {
  streamId: string;
  source: string;
  state: string;
  live: boolean;
  loop: boolean;
  reason?: string;
  decodedSec?: number;
  startedAt: number;
  updatedAt: number;
  labels: Record<string, string>;
  /** Where the stream is among the configured sites, if anywhere. */
  site?: string;
  zone?: string;
}

/** A configured site (config `sites`): its zones' cameras and its cameras in no zone. */
export interface SiteInfo {
  id: string;
  zones: { id: string; streams: string[] }[];
  streams: string[];
}

export type Change =
  | { type: 'incident'; eventSeq: number; incident: IncidentSummary }
  | { type: 'action'; actionSeq: number; action: IncidentAction; incident: IncidentSummary }
  | { type: 'stream'; stream: StreamInfo }
  | { type: 'suppression'; suppressions: Suppression[] };

export type IncidentChange = Extract<Change, { incident: IncidentSummary }>;

export function isIncidentChange(change: Change): change is IncidentChange {
  return change.type === 'incident' || change.type === 'action';
}

export interface Suppression {
  id: number;
  streamId: string;
  cls: string;
  until: number;
  incidentId: string;
  createdBy: string;
  createdAt: number;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf = '';
let onSignedOut: () => void = () => undefined;

export function bindSession(session: Session | null, signedOut: () => void): void {
  csrf = session?.csrf ?? '';
  onSignedOut = signedOut;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-vigil-csrf'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { error: { code: 'INTERNAL', message: text } };
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code: string; message: string } }).error;
    if (response.status === 401 && path !== '/api/session') onSignedOut();
    throw new ApiFailure(
      response.status,
      error?.code ?? 'UNKNOWN',
      error?.message ?? response.statusText,
    );
  }
  return parsed as T;
}
