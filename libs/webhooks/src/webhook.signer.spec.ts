import { signWebhook, verifyWebhookSignature } from './webhook.signer';

/** Computed independently: printf '%s' '<ts>.<body>' | openssl dgst -sha256 -hmac '<secret>' */
const SECRET = 'vigil-test-secret-0123456789';
const TS = 1767225600; // 2026-01-01T00:00:00Z
const BODY = '{"type":"vigil.incident","eventId":"e-1"}';
const OPENSSL = 'sha256=7c51995b2e0b8932196582dc76f55e1afd7ba712304681a72115d385710b5127';
const OPENSSL_EMPTY_BODY =
  'sha256=9077d5226dbaf57e4c91ee45f2a5c238851576b31c02df702751ff86d4a9575f';
const NOW = TS * 1000;

describe('signWebhook', () => {
  it('matches HMAC-SHA256 of "timestamp.body" computed by openssl', () => {
    expect(signWebhook(SECRET, TS, BODY)).toBe(OPENSSL);
    expect(signWebhook(SECRET, String(TS), Buffer.from(BODY))).toBe(OPENSSL);
    expect(signWebhook(SECRET, TS, '')).toBe(OPENSSL_EMPTY_BODY);
  });

  it('signs the bytes, so non-ASCII text is signed as its UTF-8', () => {
    const text = '{"title":"Vitre brisée"}';
    expect(signWebhook(SECRET, TS, text)).toBe(
      signWebhook(SECRET, TS, new TextEncoder().encode(text)),
    );
  });
});

describe('verifyWebhookSignature', () => {
  const verify = (
    overrides: Partial<{
      secret: string;
      ts: string | number | undefined;
      body: string | Uint8Array;
      header: string | undefined;
      now: number;
      toleranceSec: number;
    }> = {},
  ) => {
    const o = { secret: SECRET, ts: TS, body: BODY, header: OPENSSL, now: NOW, ...overrides };
    return verifyWebhookSignature(o.secret, o.ts, o.body, o.header, {
      now: o.now,
      ...(o.toleranceSec !== undefined ? { toleranceSec: o.toleranceSec } : {}),
    });
  };

  it('accepts the genuine signature, with the timestamp as header text or number', () => {
    expect(verify()).toBe(true);
    expect(verify({ ts: String(TS) })).toBe(true);
    expect(verify({ body: Buffer.from(BODY) })).toBe(true);
    expect(verify({ header: OPENSSL.toUpperCase().replace('SHA256=', 'sha256=') })).toBe(true);
  });

  it('refuses another secret, a changed body or a changed timestamp', () => {
    expect(verify({ secret: 'another-secret-0123456789' })).toBe(false);
    expect(verify({ body: BODY.replace('e-1', 'e-2') })).toBe(false);
    expect(verify({ body: `${BODY} ` })).toBe(false);
    expect(verify({ ts: TS + 1, now: NOW })).toBe(false);
  });

  it('refuses a timestamp outside the tolerance either way, and accepts one inside', () => {
    expect(verify({ now: NOW + 300_000 })).toBe(true);
    expect(verify({ now: NOW + 301_000 })).toBe(false);
    expect(verify({ now: NOW - 301_000 })).toBe(false);
    expect(verify({ now: NOW + 30_000, toleranceSec: 10 })).toBe(false);
    expect(verify({ now: NOW + 9_000, toleranceSec: 10 })).toBe(true);
  });

  it('refuses malformed headers and timestamps without throwing', () => {
    for (const header of [
      undefined,
      '',
      OPENSSL.slice('sha256='.length),
      `sha1=${OPENSSL.slice(7)}`,
      `${OPENSSL}00`,
      `${OPENSSL.slice(0, -2)}zz`,
      `${OPENSSL}\n`,
      'sha256=',
    ]) {
      expect({ header, ok: verify({ header }) }).toEqual({ header, ok: false });
    }
    for (const ts of [undefined, '', '-1', '1.5', 'abc', `${TS}x`, ' 1767225600']) {
      expect({ ts, ok: verify({ ts }) }).toEqual({ ts, ok: false });
    }
  });
});
