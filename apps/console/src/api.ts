/** The console's JSON API, same origin; the session cookie travels by itself. */
import type { Change, IncidentSummary, Session } from '@app/api/console.wire';

export type {
  Change,
  Detection,
  Disposition,
  IncidentAction,
  IncidentDetail,
  IncidentSummary,
  Session,
  Severity,
  SiteInfo,
  StreamInfo,
  Suppression,
} from '@app/api/console.wire';

export type IncidentChange = Extract<Change, { incident: IncidentSummary }>;

export function isIncidentChange(change: Change): change is IncidentChange {
  return change.type === 'incident' || change.type === 'action';
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
