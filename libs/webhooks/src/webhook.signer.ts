import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * X-Vigil-Signature: `sha256=` + lowercase hex of HMAC-SHA256(secret, `${timestamp}.${body}`),
 * timestamp being X-Vigil-Timestamp (unix seconds). Signing the timestamp with the body lets a
 * receiver refuse a captured request replayed later.
 *
 * This file imports nothing of Vigil's, so receivers may copy it as it is.
 */
export const SIGNATURE_PREFIX = 'sha256=';

/** Five minutes either way, the usual tolerance for clock skew between sender and receiver. */
export const DEFAULT_TOLERANCE_SEC = 300;

export function signWebhook(
  secret: string,
  timestamp: number | string,
  body: string | Uint8Array,
): string {
  return SIGNATURE_PREFIX + digest(secret, String(timestamp), body).toString('hex');
}

export interface VerifyOptions {
  /** Largest difference allowed between the timestamp and now; default 300 s. */
  toleranceSec?: number;
  /** Now, in ms since the epoch; default Date.now(). */
  now?: number;
}

/**
 * Whether a request really comes from the holder of `secret` and is recent. Pass the raw body
 * bytes as received (not re-serialised JSON) and the X-Vigil-Timestamp and X-Vigil-Signature
 * headers. Compares in constant time.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | number | undefined,
  body: string | Uint8Array,
  header: string | undefined,
  options: VerifyOptions = {},
): boolean {
  const tolerance = options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const nowSec = (options.now ?? Date.now()) / 1000;
  const ts = String(timestamp ?? '');
  if (!/^\d{1,12}$/.test(ts)) return false;
  if (Math.abs(nowSec - Number(ts)) > tolerance) return false;
  if (typeof header !== 'string' || !header.startsWith(SIGNATURE_PREFIX)) return false;
  const hex = header.slice(SIGNATURE_PREFIX.length);
  // Buffer.from(…, 'hex') stops at the first bad character; check the shape first so
  // `sha256=<64 hex>garbage` cannot pass.
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return false;
  return timingSafeEqual(Buffer.from(hex, 'hex'), digest(secret, ts, body));
}

function digest(secret: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}
