import { SEVERITIES, type Severity } from '@app/contracts';
import { INCIDENT_ACTIONS, type IncidentActionKind, MAX_ACTION_NOTE } from '@app/history';
import { ApiError } from './api.error';
import {
  INCIDENT_STATE_FILTERS,
  type IncidentQuery,
  type IncidentStateFilter,
} from './console.service';
import { siteId, streamId } from './request.parsers';

/**
 * The console's HTTP requests, checked strictly: an unknown query parameter or body field is
 * INVALID_ARGUMENT naming it, as a typo should not silently mean "no filter".
 */

type Body = Record<string, unknown>;

export function asObject(value: unknown): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw ApiError.invalid('body', 'must be a JSON object');
  }
  return value as Body;
}

function only(body: Body, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw ApiError.invalid(key, `is not a field of this request (fields: ${allowed.join(', ')})`);
    }
  }
}

function optionalString(body: Body, key: string, max: number): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw ApiError.invalid(key, 'must be a string');
  if (value.length > max) throw ApiError.invalid(key, `is longer than ${max} characters`);
  return value;
}

export function incidentQuery(params: URLSearchParams): IncidentQuery {
  const query: IncidentQuery = {};
  for (const key of new Set(params.keys())) {
    if (params.getAll(key).length > 1) throw ApiError.invalid(key, 'is given more than once');
    const value = params.get(key)!;
    if (value === '') continue;
    switch (key) {
      case 'stream':
        query.streamId = streamId(value, 'stream');
        break;
      case 'site':
        query.site = siteId(value, 'site');
        break;
      case 'severity':
        if (!(SEVERITIES as readonly string[]).includes(value)) {
          throw ApiError.invalid('severity', `must be one of ${SEVERITIES.join(', ')}`);
        }
        query.minSeverity = value as Severity;
        break;
      case 'state':
        if (!(INCIDENT_STATE_FILTERS as readonly string[]).includes(value)) {
          throw ApiError.invalid('state', `must be one of ${INCIDENT_STATE_FILTERS.join(', ')}`);
        }
        query.state = value as IncidentStateFilter;
        break;
      case 'from':
      case 'to':
        query[key] = time(value, key);
        break;
      default:
        throw ApiError.invalid(key, 'is not a filter (stream, site, severity, state, from, to)');
    }
  }
  if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
    throw ApiError.invalid('from', 'must not be after to');
  }
  return query;
}

/** ms since the epoch, or an ISO 8601 time. */
function time(value: string, field: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms)) {
    throw ApiError.invalid(field, 'must be ms since the epoch or an ISO 8601 time');
  }
  return ms;
}

export function signInBody(value: unknown): string {
  const body = asObject(value);
  only(body, ['token']);
  const token = optionalString(body, 'token', 4096);
  if (!token) throw ApiError.invalid('token', 'is required');
  return token;
}

export const MAX_SUPPRESS_MINUTES = 7 * 24 * 60;

export function actionBody(value: unknown): {
  action: IncidentActionKind;
  note: string;
  suppressMinutes?: number;
} {
  const body = asObject(value);
  only(body, ['action', 'note', 'suppressMinutes']);
  const minutes = body.suppressMinutes;
  if (
    minutes !== undefined &&
    !(
      Number.isSafeInteger(minutes) &&
      (minutes as number) >= 1 &&
      (minutes as number) <= MAX_SUPPRESS_MINUTES
    )
  ) {
    throw ApiError.invalid(
      'suppressMinutes',
      `must be a whole number from 1 to ${MAX_SUPPRESS_MINUTES}`,
    );
  }
  const action = body.action;
  if (typeof action !== 'string' || !(INCIDENT_ACTIONS as readonly string[]).includes(action)) {
    throw ApiError.invalid('action', `must be one of ${INCIDENT_ACTIONS.join(', ')}`);
  }
  return {
    action: action as IncidentActionKind,
    note: (optionalString(body, 'note', MAX_ACTION_NOTE) ?? '').trim(),
    ...(minutes !== undefined ? { suppressMinutes: minutes as number } : {}),
  };
}

/** StartStream's fields the console offers, in the .proto's JSON names. */
export function startStreamBody(value: unknown): {
  source?: string;
  streamId?: string;
  live?: boolean;
  loop?: boolean;
  labels?: Record<string, string>;
} {
  const body = asObject(value);
  only(body, ['source', 'streamId', 'live', 'loop', 'labels']);
  for (const key of ['live', 'loop'] as const) {
    if (body[key] !== undefined && typeof body[key] !== 'boolean') {
      throw ApiError.invalid(key, 'must be true or false');
    }
  }
  const labels = body.labels;
  if (labels !== undefined) {
    const entries = Object.entries(asObjectField(labels, 'labels'));
    if (!entries.every(([, v]) => typeof v === 'string')) {
      throw ApiError.invalid('labels', 'must map names to strings');
    }
  }
  return {
    source: optionalString(body, 'source', 4096),
    streamId: optionalString(body, 'streamId', 128),
    ...(body.live !== undefined ? { live: body.live as boolean } : {}),
    ...(body.loop !== undefined ? { loop: body.loop as boolean } : {}),
    ...(labels !== undefined ? { labels: labels as Record<string, string> } : {}),
  };
}

function asObjectField(value: unknown, field: string): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw ApiError.invalid(field, 'must be an object');
  }
  return value as Body;
}
