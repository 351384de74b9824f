import { redactUrls } from '@app/media/url.redactor';

const REDACTED = '***';
/** `Bearer <token>` / `Basic <credentials>` anywhere in text (a header echoed in an error). */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/** `password=…`, `token: …`, `secret=…` in free text, as config errors and URLs of libraries write them. */
const SECRET_ASSIGNMENT =
  /\b((?:[a-z_-]*?)(?:password|passwd|secret|token|api[_-]?key))(["']?\s*[=:]\s*["']?)([^\s"'&,;]+)/gi;

/**
 * Field paths pino censors wherever they appear at these depths: credentials of Kafka (sasl),
 * API tokens, webhook and link secrets, authorization headers (gRPC metadata, HTTP).
 */
export const REDACTED_PATHS: readonly string[] = [
  'password',
  'token',
  'secret',
  'authorization',
  'apiKey',
  '*.password',
  '*.token',
  '*.tokens',
  '*.secret',
  '*.linkSecret',
  '*.authorization',
  '*.apiKey',
  'headers.authorization',
  'metadata.authorization',
  '*.headers.authorization',
  '*.metadata.authorization',
  '*.sasl.password',
  'sasl.password',
];

/** Camera URL credentials and query strings, bearer tokens and `secret=` values in free text. */
export function redactText(text: string): string {
  return redactUrls(text)
    .replace(AUTH_SCHEME, (_, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(
      SECRET_ASSIGNMENT,
      (_, name: string, separator: string) => `${name}${separator}${REDACTED}`,
    );
}

/** Every string inside a log record's fields, redacted (bounded depth: log fields are shallow). */
export function redactValues(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return redactError(value, depth);
  if (depth >= 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactValues(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = redactValues(item, depth + 1);
  return out;
}

/** A copy of the error (same class, so pino's serializer names its type) with its text redacted. */
function redactError(error: Error, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
  for (const [key, item] of Object.entries(error)) {
    (copy as unknown as Record<string, unknown>)[key] = redactValues(item, depth + 1);
  }
  copy.message = redactText(error.message);
  if (error.stack) copy.stack = redactText(error.stack);
  return copy;
}
