import { ConfigError, type Env } from '@app/config';
import {
  SEVERITIES,
  SITE_ID_PATTERN,
  isAudioClass,
  isVideoClass,
  type CanonicalClass,
  type SecurityEvent,
  type Severity,
} from '@app/contracts';
import { matchesEventFilter } from '@app/history';

/** The event filters of libs/history (EventFilter): every one left out matches everything. */
export interface WebhookFilter {
  streamIds?: readonly string[];
  /** A site's incidents and its cameras' own (config `sites`); a zone's likewise. */
  sites?: readonly string[];
  zones?: readonly string[];
  /** Matches the trigger or the class of any evidence. */
  classes?: readonly CanonicalClass[];
  minSeverity?: Severity;
}

export interface WebhookBackoff {
  /** Ceiling of the first retry's delay; each retry doubles it (full jitter below it). */
  initialMs: number;
  /** Largest delay between attempts, also the cap on a receiver's Retry-After. */
  maxMs: number;
}

export interface WebhookSubscription {
  /** Stable name: outbox rows, dead letters and logs are keyed by it. */
  id: string;
  url: string;
  /** HMAC-SHA256 key of X-Vigil-Signature; never logged. */
  secret: string;
  filter: WebhookFilter;
  /**
   * How long a delivery is retried, from when it was queued (or replayed), before it goes to
   * the dead letters. The last attempt is made when the budget runs out.
   */
  retryForMs: number;
  /**
   * Optional cap on attempts per delivery (the first one included), on top of the time
   * budget; absent, only the budget counts. Configurations from before the budget set it.
   */
  maxAttempts?: number;
  /** Per attempt, from sending the request to reading the end of the response. */
  timeoutMs: number;
  /** Requests in flight at once to this subscriber, each for a different event. */
  concurrency: number;
  backoff: WebhookBackoff;
}

export const WEBHOOK_DEFAULTS = {
  // A receiver down for a whole night still gets every incident once it is back; only a longer
  // outage leaves dead letters for an operator.
  retryForMs: 24 * 3_600_000,
  timeoutMs: 10_000,
  // A receiver that hangs costs one slot per attempt until its timeout: four keep the other
  // events moving without flooding a receiver that comes back to a backlog.
  concurrency: 4,
  // Capped at 5 minutes: a receiver that returns hears from each pending event within 5
  // minutes, and an event retried for 24 h makes about 580 attempts (full jitter averages half
  // the cap), not tens of thousands.
  backoff: { initialMs: 1_000, maxMs: 300_000 },
} as const;

/** Retried for at most 30 days: evidence links and history retention are counted in days too. */
export const MAX_RETRY_FOR_MS = 30 * 86_400_000;

export const MIN_SECRET_LENGTH = 16;

/** Safe in logs, file names and Kafka keys. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const SUBSCRIPTION_KEYS = [
  'id',
  'url',
  'secret',
  'secretEnv',
  'filter',
  'retryForMs',
  'maxAttempts',
  'timeoutMs',
  'concurrency',
  'backoff',
];
const FILTER_KEYS = ['streamIds', 'sites', 'zones', 'classes', 'minSeverity'];
const BACKOFF_KEYS = ['initialMs', 'maxMs'];

/**
 * Checks the `webhooks` list of a config file (plain objects from YAML or JSON) and fills in
 * defaults. A secret comes inline (`secret`) or from the environment variable named by
 * `secretEnv`, looked up in `env`. Every problem is a ConfigError naming the key, e.g.
 * `webhooks[1].url`; no message ever quotes a secret.
 */
export function parseWebhookSubscriptions(
  raw: unknown,
  keyPrefix = 'webhooks',
  env: Env = {},
): WebhookSubscription[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(keyPrefix, 'must be a list of subscriptions');
  const firstKeyOfId = new Map<string, string>();
  return raw.map((item: unknown, index) => {
    const key = `${keyPrefix}[${index}]`;
    const subscription = parseOne(item, key, env);
    const earlier = firstKeyOfId.get(subscription.id);
    if (earlier) {
      throw new ConfigError(`${key}.id`, `"${subscription.id}" is already the id of ${earlier}`);
    }
    firstKeyOfId.set(subscription.id, key);
    return subscription;
  });
}

export function isWebhookSubscriptionId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The history's filter semantics, so a subscription and a Subscribe with the same filter agree. */
export function webhookMatches(filter: WebhookFilter, event: SecurityEvent): boolean {
  return matchesEventFilter(event, filter);
}

function parseOne(item: unknown, key: string, env: Env): WebhookSubscription {
  const fields = plainObject(item, key, SUBSCRIPTION_KEYS);
  const id = fields.id;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw new ConfigError(
      `${key}.id`,
      'must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    );
  }
  const maxAttempts = integer(fields.maxAttempts, `${key}.maxAttempts`, 1, 100_000);
  return {
    id,
    url: parseUrl(fields.url, `${key}.url`),
    secret: parseSecret(fields, key, env),
    filter: parseFilter(fields.filter, `${key}.filter`),
    retryForMs:
      integer(fields.retryForMs, `${key}.retryForMs`, 1_000, MAX_RETRY_FOR_MS) ??
      WEBHOOK_DEFAULTS.retryForMs,
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    timeoutMs:
      integer(fields.timeoutMs, `${key}.timeoutMs`, 1, 300_000) ?? WEBHOOK_DEFAULTS.timeoutMs,
    concurrency:
      integer(fields.concurrency, `${key}.concurrency`, 1, 64) ?? WEBHOOK_DEFAULTS.concurrency,
    backoff: parseBackoff(fields.backoff, `${key}.backoff`),
  };
}

function parseUrl(value: unknown, key: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(key, 'must be an http(s) URL');
  }
  if (url.hash) throw new ConfigError(key, 'must not have a #fragment (it is never sent)');
  return url.href;
}

function parseSecret(fields: Record<string, unknown>, key: string, env: Env): string {
  const { secret, secretEnv } = fields;
  if (secret !== undefined && secretEnv !== undefined) {
    throw new ConfigError(`${key}.secret`, 'give secret or secretEnv, not both');
  }
  let value: unknown = secret;
  let where = `${key}.secret`;
  if (secretEnv !== undefined) {
    if (typeof secretEnv !== 'string' || !ENV_NAME.test(secretEnv)) {
      throw new ConfigError(`${key}.secretEnv`, 'must be the name of an environment variable');
    }
    value = env[secretEnv];
    where = `${key}.secretEnv`;
    if (value === undefined || value === '') {
      throw new ConfigError(where, `the environment variable ${secretEnv} is not set`);
    }
  }
  if (value === undefined) {
    throw new ConfigError(`${key}.secret`, 'is required (or secretEnv, naming where it is)');
  }
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(where, `must be a string of at least ${MIN_SECRET_LENGTH} characters`);
  }
  return value;
}

function parseFilter(value: unknown, key: string): WebhookFilter {
  if (value === undefined) return {};
  const fields = plainObject(value, key, FILTER_KEYS);
  const filter: WebhookFilter = {};
  if (fields.streamIds !== undefined) {
    const ids = stringList(fields.streamIds, `${key}.streamIds`);
    if (ids.length > 0) filter.streamIds = [...new Set(ids)].sort();
  }
  for (const field of ['sites', 'zones'] as const) {
    if (fields[field] === undefined) continue;
    const ids = stringList(fields[field], `${key}.${field}`);
    for (const id of ids) {
      if (!SITE_ID_PATTERN.test(id)) {
        throw new ConfigError(
          `${key}.${field}`,
          `"${id}" is not 1-64 letters, digits, dots, dashes or underscores`,
        );
      }
    }
    if (ids.length > 0) filter[field] = [...new Set(ids)].sort();
  }
  if (fields.classes !== undefined) {
    const classes = stringList(fields.classes, `${key}.classes`);
    for (const cls of classes) {
      if (!isAudioClass(cls) && !isVideoClass(cls)) {
        throw new ConfigError(`${key}.classes`, `unknown class "${cls}"`);
      }
    }
    if (classes.length > 0) filter.classes = [...new Set(classes as CanonicalClass[])].sort();
  }
  if (fields.minSeverity !== undefined) {
    const severity = fields.minSeverity;
    if (typeof severity !== 'string' || !(SEVERITIES as readonly string[]).includes(severity)) {
      throw new ConfigError(`${key}.minSeverity`, `must be one of ${SEVERITIES.join(', ')}`);
    }
    filter.minSeverity = severity as Severity;
  }
  return filter;
}

function parseBackoff(value: unknown, key: string): WebhookBackoff {
  if (value === undefined) return { ...WEBHOOK_DEFAULTS.backoff };
  const fields = plainObject(value, key, BACKOFF_KEYS);
  const initialMs =
    integer(fields.initialMs, `${key}.initialMs`, 1, 3_600_000) ??
    WEBHOOK_DEFAULTS.backoff.initialMs;
  const maxMs =
    integer(fields.maxMs, `${key}.maxMs`, 1, 86_400_000) ??
    Math.max(initialMs, WEBHOOK_DEFAULTS.backoff.maxMs);
  if (maxMs < initialMs) throw new ConfigError(`${key}.maxMs`, 'must not be below initialMs');
  return { initialMs, maxMs };
}

/** A misspelt key would otherwise be ignored and its default used without a word. */
function plainObject(value: unknown, key: string, allowed: readonly string[]) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(key, 'must be an object');
  }
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!allowed.includes(name)) {
      throw new ConfigError(`${key}.${name}`, `is not a known key (known: ${allowed.join(', ')})`);
    }
  }
  return fields;
}

function stringList(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw new ConfigError(key, 'must be a list of non-empty strings');
  }
  return value as string[];
}

function integer(value: unknown, key: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(key, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}
