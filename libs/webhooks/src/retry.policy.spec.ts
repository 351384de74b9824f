import type { SendOutcome } from './http.sender';
import { RetryPolicy, formatDuration, isRetryableStatus, parseRetryAfter } from './retry.policy';

const NOW = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;
const SUB = { retryForMs: 24 * HOUR, backoff: { initialMs: 1_000, maxMs: 10_000 } };

describe('isRetryableStatus', () => {
  it.each([429, 500, 502, 503, 504, 599])('retries %i', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  it.each([100, 301, 302, 400, 401, 403, 404, 408, 410, 413, 422, 499, 600])(
    'gives up on %i',
    (status) => {
      expect(isRetryableStatus(status)).toBe(false);
    },
  );
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7_000);
  });

  it('reads an HTTP-date, counting from now and never below zero', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores what it cannot read, so the usual backoff applies', () => {
    for (const value of [
      undefined,
      '',
      '-5',
      '1.5',
      'soon',
      '2026-01-01T12:00:30Z',
      'Thu, 99 Foo GMT',
    ]) {
      expect({ value, ms: parseRetryAfter(value, NOW) }).toEqual({ value, ms: undefined });
    }
  });
});

describe('RetryPolicy', () => {
  /** `elapsedMs` since the delivery's budget started. */
  const decide = (
    outcome: SendOutcome,
    attempt = 1,
    random = 0.5,
    elapsedMs = 0,
    subscription: Parameters<RetryPolicy['decide']>[2] = SUB,
  ) =>
    new RetryPolicy(() => random).decide(
      outcome,
      { attempt, retryFrom: NOW - elapsedMs, now: NOW },
      subscription,
    );

  it('calls a 2xx delivered', () => {
    expect(decide({ kind: 'ok', status: 204 })).toEqual({ kind: 'delivered', status: 204 });
  });

  it('retries 5xx, 429, timeouts and connection failures, saying why', () => {
    expect(decide({ kind: 'http', status: 503 })).toEqual({
      kind: 'retry',
      delayMs: 500,
      reason: 'HTTP 503',
      status: 503,
    });
    expect(decide({ kind: 'http', status: 429 })).toMatchObject({ kind: 'retry', status: 429 });
    expect(decide({ kind: 'timeout', afterMs: 2_000 })).toEqual({
      kind: 'retry',
      delayMs: 500,
      reason: 'no answer within 2000 ms',
    });
    expect(decide({ kind: 'network', error: 'ECONNREFUSED' })).toEqual({
      kind: 'retry',
      delayMs: 500,
      reason: 'connection failed: ECONNREFUSED',
    });
  });

  it('gives up at once on other statuses', () => {
    expect(decide({ kind: 'http', status: 404 })).toEqual({
      kind: 'dead',
      reason: 'HTTP 404, not retried',
      status: 404,
    });
    expect(decide({ kind: 'http', status: 302 })).toMatchObject({ kind: 'dead', status: 302 });
  });

  it('retries until the time budget is spent, however many attempts that takes', () => {
    const unavailable: SendOutcome = { kind: 'http', status: 503 };
    expect(decide(unavailable, 300, 0.5, 23 * HOUR)).toMatchObject({ kind: 'retry' });
    expect(decide(unavailable, 290, 0.5, 24 * HOUR)).toEqual({
      kind: 'dead',
      reason: 'HTTP 503, gave up after 290 attempts in 24 h',
      status: 503,
    });
    expect(decide({ kind: 'timeout', afterMs: 50 }, 3, 0.5, 25 * HOUR)).toEqual({
      kind: 'dead',
      reason: 'no answer within 50 ms, gave up after 3 attempts in 25 h',
    });
  });

  it('makes the last attempt when the budget runs out, not a backoff later', () => {
    // 3 s left, the backoff would say 5 s (0.5 of a 10 s ceiling)
    expect(decide({ kind: 'http', status: 503 }, 10, 0.5, 24 * HOUR - 3_000)).toMatchObject({
      kind: 'retry',
      delayMs: 3_000,
    });
  });

  it('still honours maxAttempts from an older configuration, alongside the budget', () => {
    const capped = { ...SUB, maxAttempts: 5 };
    expect(decide({ kind: 'http', status: 500 }, 4, 0.5, 0, capped)).toMatchObject({
      kind: 'retry',
    });
    expect(decide({ kind: 'http', status: 500 }, 5, 0.5, 0, capped)).toEqual({
      kind: 'dead',
      reason: 'HTTP 500, gave up after 5 attempts (maxAttempts)',
      status: 500,
    });
  });

  it('leaves an aborted attempt to the dispatcher', () => {
    expect(decide({ kind: 'aborted' }, 5, 0.5, 30 * HOUR)).toEqual({ kind: 'abandoned' });
  });

  it('honours Retry-After in both forms, up to the backoff maximum', () => {
    const retryAfter = (value: string) =>
      decide({ kind: 'http', status: 503, retryAfter: value }, 1, 0.5);
    expect(retryAfter('3')).toMatchObject({ kind: 'retry', delayMs: 3_000 });
    expect(retryAfter('Thu, 01 Jan 2026 12:00:04 GMT')).toMatchObject({ delayMs: 4_000 });
    expect(retryAfter('3600')).toMatchObject({ delayMs: 10_000 });
    expect(retryAfter('0')).toMatchObject({ delayMs: 0 });
    // unreadable: the jittered backoff instead
    expect(retryAfter('later')).toMatchObject({ delayMs: 500 });
    expect(decide({ kind: 'http', status: 429, retryAfter: '2' })).toMatchObject({
      delayMs: 2_000,
    });
  });

  it('draws the backoff uniformly below a ceiling that doubles up to the maximum', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((attempt) =>
      new RetryPolicy(() => 0.999_999).backoffMs(attempt, SUB.backoff),
    );
    expect(ceilings).toEqual([999, 1_999, 3_999, 7_999, 9_999, 9_999]);
    expect(new RetryPolicy(() => 0).backoffMs(4, SUB.backoff)).toBe(0);
    expect(new RetryPolicy(() => 0.25).backoffMs(3, SUB.backoff)).toBe(1_000);
    // no overflow to Infinity for absurd attempt numbers
    expect(new RetryPolicy(() => 0.5).backoffMs(5_000, SUB.backoff)).toBe(5_000);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [42_000, '42 s'],
    [600_000, '10 min'],
    [605_000, '10 min 5 s'],
    [86_400_000, '24 h'],
    [5_400_000, '1 h 30 min'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
