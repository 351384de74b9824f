import type { SendOutcome } from './http.sender';
import type { WebhookBackoff, WebhookSubscription } from './webhook-subscription';

/** What the dispatcher does with a delivery after one attempt. */
export type DeliveryDecision =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; delayMs: number; reason: string; status?: number }
  | { kind: 'dead'; reason: string; status?: number }
  /** The dispatcher stopped mid-attempt: the row stays as it was, the attempt uncounted. */
  | { kind: 'abandoned' };

type Verdict =
  | { kind: 'delivered'; status: number }
  | { kind: 'abandoned' }
  | { kind: 'failed'; retryable: boolean; reason: string; status?: number; retryAfter?: string };

/**
 * Every way an attempt can end, decided here; an outcome kind added to the sender without a
 * line here fails to compile.
 */
const CLASSIFY: {
  [K in SendOutcome['kind']]: (outcome: Extract<SendOutcome, { kind: K }>) => Verdict;
} = {
  ok: (o) => ({ kind: 'delivered', status: o.status }),
  http: (o) => ({
    kind: 'failed',
    retryable: isRetryableStatus(o.status),
    reason: `HTTP ${o.status}`,
    status: o.status,
    ...(o.retryAfter !== undefined ? { retryAfter: o.retryAfter } : {}),
  }),
  timeout: (o) => ({ kind: 'failed', retryable: true, reason: `no answer within ${o.afterMs} ms` }),
  network: (o) => ({ kind: 'failed', retryable: true, reason: `connection failed: ${o.error}` }),
  aborted: () => ({ kind: 'abandoned' }),
};

/**
 * 429 and 5xx are the receiver saying "later"; any other status (other 4xx, and the 1xx/3xx a
 * webhook should never get) will not change by asking again.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * Retry-After as delta-seconds or an HTTP-date, in ms from now (never negative); undefined
 * when absent or unreadable, so the usual backoff applies.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date always names its day and GMT; Date.parse alone accepts far too much.
  if (!/^[A-Za-z]{3},? .*GMT$/.test(text)) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Decides retries: exponential backoff with full jitter (a uniform draw below the doubling
 * ceiling, so receivers coming back up are not hit by every sender at the same instant),
 * Retry-After honoured up to the backoff's maximum, and the attempt budget.
 */
export class RetryPolicy {
  constructor(private readonly random: () => number = Math.random) {}

  /** `attempt` is the number of the attempt that just ended, from 1. */
  decide(
    outcome: SendOutcome,
    attempt: number,
    subscription: Pick<WebhookSubscription, 'maxAttempts' | 'backoff'>,
    nowMs: number,
  ): DeliveryDecision {
    const verdict = (CLASSIFY[outcome.kind] as (o: SendOutcome) => Verdict)(outcome);
    if (verdict.kind !== 'failed') return verdict;
    const status = verdict.status !== undefined ? { status: verdict.status } : {};
    if (!verdict.retryable) {
      return { kind: 'dead', reason: `${verdict.reason}, not retried`, ...status };
    }
    if (attempt >= subscription.maxAttempts) {
      return {
        kind: 'dead',
        reason: `${verdict.reason}, gave up after ${attempt} attempts`,
        ...status,
      };
    }
    const asked = parseRetryAfter(verdict.retryAfter, nowMs);
    const delayMs =
      asked !== undefined
        ? Math.min(asked, subscription.backoff.maxMs)
        : this.backoffMs(attempt, subscription.backoff);
    return { kind: 'retry', delayMs, reason: verdict.reason, ...status };
  }

  /** Full jitter: uniform in [0, min(maxMs, initialMs · 2^(attempt-1))). */
  backoffMs(attempt: number, backoff: WebhookBackoff): number {
    const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 40));
    return Math.floor(this.random() * ceiling);
  }
}
