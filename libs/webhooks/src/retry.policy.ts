import type { SendOutcome } from './http.sender';
import type { WebhookBackoff, WebhookSubscription } from './webhook-subscription';

/** What the dispatcher does with a delivery after one attempt. */
export type DeliveryDecision =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; delayMs: number; reason: string; status?: number }
  | { kind: 'dead'; reason: string; status?: number }
  /**
   * The dispatcher stopped mid-attempt. The attempt stays counted (it was recorded before the
   * request left, and the receiver may have got it); the delivery stays due.
   */
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

/** Where a delivery stands when an attempt ends. */
export interface AttemptContext {
  /** The number of the attempt that just ended, from 1. */
  attempt: number;
  /** When its retry budget started: when it was queued, or replayed from the dead letters. */
  retryFrom: number;
  now: number;
}

/**
 * Decides retries: exponential backoff with full jitter (a uniform draw below the doubling
 * ceiling, so receivers coming back up are not hit by every sender at the same instant),
 * Retry-After honoured up to the backoff's maximum, and a time budget: a delivery is retried
 * until `retryForMs` after it was queued, the last attempt falling on the budget's end, and
 * only then (or after `maxAttempts`, where a subscription still sets it) given up on.
 */
export class RetryPolicy {
  constructor(private readonly random: () => number = Math.random) {}

  decide(
    outcome: SendOutcome,
    context: AttemptContext,
    subscription: Pick<WebhookSubscription, 'retryForMs' | 'maxAttempts' | 'backoff'>,
  ): DeliveryDecision {
    const { attempt, retryFrom, now } = context;
    const verdict = (CLASSIFY[outcome.kind] as (o: SendOutcome) => Verdict)(outcome);
    if (verdict.kind !== 'failed') return verdict;
    const status = verdict.status !== undefined ? { status: verdict.status } : {};
    if (!verdict.retryable) {
      return { kind: 'dead', reason: `${verdict.reason}, not retried`, ...status };
    }
    if (subscription.maxAttempts !== undefined && attempt >= subscription.maxAttempts) {
      return {
        kind: 'dead',
        reason: `${verdict.reason}, gave up after ${attempt} attempts (maxAttempts)`,
        ...status,
      };
    }
    const deadline = retryFrom + subscription.retryForMs;
    if (now >= deadline) {
      return {
        kind: 'dead',
        reason:
          `${verdict.reason}, gave up after ${attempt} attempts in ` +
          formatDuration(now - retryFrom),
        ...status,
      };
    }
    const asked = parseRetryAfter(verdict.retryAfter, now);
    const delayMs =
      asked !== undefined
        ? Math.min(asked, subscription.backoff.maxMs)
        : this.backoffMs(attempt, subscription.backoff);
    return {
      kind: 'retry',
      delayMs: Math.min(delayMs, deadline - now),
      reason: verdict.reason,
      ...status,
    };
  }

  /** Full jitter: uniform in [0, min(maxMs, initialMs · 2^(attempt-1))). */
  backoffMs(attempt: number, backoff: WebhookBackoff): number {
    const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 40));
    return Math.floor(this.random() * ceiling);
  }
}

/** "42 s", "10 min 5 s", "24 h": for logs and dead-letter reasons. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours === 0)
    return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  return minutes === 0 ? `${hours} h` : `${hours} h ${minutes} min`;
}
