import {
  AUDIO_CLASSES,
  type CanonicalClass,
  SEVERITIES,
  SITE_ID_PATTERN,
  type Severity,
  type StreamState,
  VIDEO_CLASSES,
  isStreamingSource,
  streamIdFor,
} from '@app/contracts';
import { type EventFilter, MAX_PAGE_SIZE } from '@app/history';
import { MAX_LABELS_HEADER_BYTES } from '@app/pipeline';
import { MediaError, SourceResolver } from '@app/media';
import { toApiError } from './grpc-status.mapper';
import { MediaRootsPolicy } from './media-roots.policy';
import { ApiError } from './api.error';
import type { StreamSpec } from './api.ports';

/**
 * Request validation. Every failure is INVALID_ARGUMENT naming the field as the client wrote
 * it (snake_case, the .proto's name), so a caller can fix the request without reading code.
 */

const STREAM_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const LABEL_KEY = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_LABELS = 32;
const MAX_LABEL_VALUE = 256;
const MAX_SOURCE = 4096;
const CLASSES: readonly string[] = [...AUDIO_CLASSES, ...VIDEO_CLASSES];
/** Every state once: a new StreamState fails to compile here until it is accepted. */
const STREAM_STATES = Object.keys({
  starting: true,
  started: true,
  reconnecting: true,
  stalled: true,
  ended: true,
  failed: true,
} satisfies Record<StreamState, true>);

export function streamId(value: unknown, field = 'stream_id'): string {
  if (typeof value !== 'string' || value === '') throw ApiError.invalid(field, 'is required');
  if (!STREAM_ID.test(value)) {
    throw ApiError.invalid(field, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return value;
}

export function eventId(value: unknown, field = 'event_id'): string {
  if (typeof value !== 'string' || value === '') throw ApiError.invalid(field, 'is required');
  if (value.length > 256) throw ApiError.invalid(field, 'is longer than 256 characters');
  return value;
}

function fps(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value >= 0.1 && value <= 60)) {
    throw ApiError.invalid(field, 'must be between 0.1 and 60');
  }
  return value;
}

export interface Capabilities {
  models: string[];
  rulesProfiles: string[];
  fps: number;
}

export function rulesProfile(value: unknown, capabilities: Capabilities, field: string): string {
  const profile = typeof value === 'string' && value !== '' ? value : 'default';
  if (!capabilities.rulesProfiles.includes(profile)) {
    throw ApiError.invalid(
      field,
      `unknown rules profile "${profile}" (available: ${capabilities.rulesProfiles.join(', ')})`,
    );
  }
  return profile;
}

export function clipFps(value: unknown, capabilities: Capabilities, field: string): number {
  return fps(value, field) ?? capabilities.fps;
}

interface StartStreamRequest {
  source?: string;
  streamId?: string;
  live?: boolean | null;
  loop?: boolean | null;
  fps?: number | null;
  models?: string[];
  rulesProfile?: string;
  labels?: Record<string, string>;
  requestId?: string;
}

export function streamSpec(
  request: StartStreamRequest,
  capabilities: Capabilities & { mediaRoots: string[] },
): StreamSpec {
  const source = request.source ?? '';
  if (source.trim() === '') throw ApiError.invalid('source', 'is required');
  if (source.length > MAX_SOURCE) {
    throw ApiError.invalid('source', `is longer than ${MAX_SOURCE} characters`);
  }
  const models = request.models ?? [];
  models.forEach((name, i) => {
    if (!capabilities.models.includes(name)) {
      throw ApiError.invalid(
        `models[${i}]`,
        `model "${name}" is not loaded (loaded: ${capabilities.models.join(', ')})`,
      );
    }
  });
  const spec: StreamSpec = {
    streamId: request.streamId ? streamId(request.streamId) : streamIdFor(source),
    source,
    live: typeof request.live === 'boolean' ? request.live : isStreamingSource(source),
    loop: request.loop === true,
    fps: fps(request.fps, 'fps') ?? capabilities.fps,
    models: models.length > 0 ? [...new Set(models)] : capabilities.models,
    rulesProfile: rulesProfile(request.rulesProfile, capabilities, 'rules_profile'),
    labels: labels(request.labels ?? {}),
    ...(request.requestId ? { requestId: streamId(request.requestId, 'request_id') } : {}),
  };
  // Last: a request with a bad field hears about the field before the policy. Then what ingest
  // would refuse later (a missing file, a protocol off the whitelist) is refused at the call.
  new MediaRootsPolicy(capabilities.mediaRoots).check(source);
  try {
    new SourceResolver().resolve(source);
  } catch (error) {
    if (!(error instanceof MediaError)) throw error;
    throw new ApiError(toApiError(error).code, `source: ${error.message}`, 'source');
  }
  return spec;
}

function labels(value: Record<string, string>): Record<string, string> {
  const entries = Object.entries(value);
  if (entries.length > MAX_LABELS) {
    throw ApiError.invalid('labels', `has more than ${MAX_LABELS} entries`);
  }
  for (const [key, text] of entries) {
    if (!LABEL_KEY.test(key)) {
      throw ApiError.invalid(`labels[${key}]`, 'keys are 1-64 characters of A-Z a-z 0-9 . _ -');
    }
    if (text.length > MAX_LABEL_VALUE) {
      throw ApiError.invalid(`labels[${key}]`, `is longer than ${MAX_LABEL_VALUE} characters`);
    }
  }
  const sorted = Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  // They ride on every message of the stream as one header, which has a size limit.
  const bytes = Buffer.byteLength(JSON.stringify(sorted));
  if (bytes > MAX_LABELS_HEADER_BYTES) {
    throw ApiError.invalid(
      'labels',
      `take ${bytes} bytes as JSON, more than ${MAX_LABELS_HEADER_BYTES}`,
    );
  }
  return sorted;
}

export function streamStates(values: unknown, field = 'states'): StreamState[] {
  return ((values as string[] | undefined) ?? []).map((value, i) => {
    const name = typeof value === 'string' ? value.replace(/^STREAM_STATE_/, '').toLowerCase() : '';
    if (!STREAM_STATES.includes(name)) {
      throw ApiError.invalid(`${field}[${i}]`, `is not a stream state`);
    }
    return name as StreamState;
  });
}

interface FilterMessage {
  streamIds?: string[];
  classes?: string[];
  minSeverity?: string;
  sites?: string[];
  zones?: string[];
}

/** A site or zone id as the config file names them. */
export function siteId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw ApiError.invalid(field, 'must not be empty');
  if (!SITE_ID_PATTERN.test(value)) {
    throw ApiError.invalid(field, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');
  }
  return value;
}

export function eventFilter(
  message: FilterMessage | null | undefined,
  field = 'filter',
): EventFilter {
  const filter: EventFilter = {};
  const ids = message?.streamIds ?? [];
  if (ids.length > 0)
    filter.streamIds = ids.map((id, i) => streamId(id, `${field}.stream_ids[${i}]`));
  for (const key of ['sites', 'zones'] as const) {
    const ids = message?.[key] ?? [];
    if (ids.length > 0) filter[key] = ids.map((id, i) => siteId(id, `${field}.${key}[${i}]`));
  }
  const classes = message?.classes ?? [];
  if (classes.length > 0) {
    filter.classes = classes.map((cls, i) => {
      if (!CLASSES.includes(cls)) {
        throw ApiError.invalid(
          `${field}.classes[${i}]`,
          `unknown class "${cls}" (${CLASSES.join(', ')})`,
        );
      }
      return cls as CanonicalClass;
    });
  }
  // An enum number the .proto does not name arrives as a number, not a name.
  const severity = String(message?.minSeverity ?? 'SEVERITY_UNSPECIFIED');
  if (severity !== 'SEVERITY_UNSPECIFIED') {
    const name = severity.replace(/^SEVERITY_/, '').toLowerCase();
    if (!(SEVERITIES as readonly string[]).includes(name)) {
      throw ApiError.invalid(`${field}.min_severity`, 'is not a severity');
    }
    filter.minSeverity = name as Severity;
  }
  return filter;
}

export function timeBound(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === 0) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw ApiError.invalid(field, 'must be milliseconds since the epoch');
  }
  return value;
}

/**
 * 0 (unset) is the history's default page. Above the maximum is refused rather than cut
 * down: a client asking for 4294967295 events believes it gets them all in one page.
 */
export function pageSize(value: unknown, field = 'page_size'): number | undefined {
  if (value === undefined || value === null || value === 0) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw ApiError.invalid(field, 'must be a whole number');
  }
  if (value > MAX_PAGE_SIZE) {
    throw ApiError.invalid(field, `must be at most ${MAX_PAGE_SIZE} (0 means the default)`);
  }
  return value;
}
