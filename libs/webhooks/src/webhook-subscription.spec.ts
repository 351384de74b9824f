import { ConfigError } from '@app/config';
import type { SecurityEvent } from '@app/contracts';
import { makeIncident } from '@app/testing/incident.factory';
import {
  WEBHOOK_DEFAULTS,
  parseWebhookSubscriptions,
  webhookMatches,
} from './webhook-subscription';

const SECRET = 'a-secret-of-16-chars';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseWebhookSubscriptions', () => {
  it('fills in defaults and keeps what was given', () => {
    const [minimal, full] = parseWebhookSubscriptions(
      [
        { id: 'soc', url: 'https://hooks.example.com/vigil', secret: SECRET },
        {
          id: 'pager.duty-1',
          url: 'http://user:pw@10.0.0.5:8080/in?token=abc',
          secretEnv: 'PAGER_SECRET',
          filter: {
            streamIds: ['cam-2', 'cam-1', 'cam-2'],
            classes: ['person', 'gunshot'],
            minSeverity: 'high',
          },
          retryForMs: 3_600_000,
          maxAttempts: 300,
          timeoutMs: 2_500,
          concurrency: 1,
          backoff: { initialMs: 200, maxMs: 5_000 },
        },
      ],
      'webhooks',
      { PAGER_SECRET: 'from-the-environment!' },
    );

    expect(minimal).toEqual({
      id: 'soc',
      url: 'https://hooks.example.com/vigil',
      secret: SECRET,
      filter: {},
      retryForMs: 24 * 3_600_000,
      timeoutMs: WEBHOOK_DEFAULTS.timeoutMs,
      concurrency: WEBHOOK_DEFAULTS.concurrency,
      backoff: { initialMs: 1_000, maxMs: 300_000 },
    });
    expect(minimal).not.toHaveProperty('maxAttempts');
    expect(full).toEqual({
      id: 'pager.duty-1',
      url: 'http://user:pw@10.0.0.5:8080/in?token=abc',
      secret: 'from-the-environment!',
      filter: {
        streamIds: ['cam-1', 'cam-2'],
        classes: ['gunshot', 'person'],
        minSeverity: 'high',
      },
      retryForMs: 3_600_000,
      maxAttempts: 300,
      timeoutMs: 2_500,
      concurrency: 1,
      backoff: { initialMs: 200, maxMs: 5_000 },
    });
  });

  it('still loads a configuration written for attempts, keeping its cap beside the budget', () => {
    // the README's example before the retry budget
    const [old] = parseWebhookSubscriptions([
      {
        id: 'soc',
        url: 'https://alerts.example.com/vigil',
        secret: SECRET,
        filter: { minSeverity: 'medium' },
        maxAttempts: 8,
        timeoutMs: 10_000,
      },
    ]);
    expect(old).toMatchObject({ maxAttempts: 8, retryForMs: 24 * 3_600_000 });
  });

  it('reads no subscriptions from an absent key, and drops empty filter lists', () => {
    expect(parseWebhookSubscriptions(undefined)).toEqual([]);
    expect(parseWebhookSubscriptions(null)).toEqual([]);
    const [sub] = parseWebhookSubscriptions([
      {
        id: 'a',
        url: 'https://x.example/',
        secret: SECRET,
        filter: { streamIds: [], classes: [] },
      },
    ]);
    expect(sub.filter).toEqual({});
  });

  it('raises maxMs to initialMs when only initialMs is given above the default maximum', () => {
    const [sub] = parseWebhookSubscriptions([
      { id: 'a', url: 'https://x.example/', secret: SECRET, backoff: { initialMs: 600_000 } },
    ]);
    expect(sub.backoff).toEqual({ initialMs: 600_000, maxMs: 600_000 });
  });

  const base = { id: 'a', url: 'https://x.example/hook', secret: SECRET };
  const cases: [string, unknown, string, RegExp][] = [
    ['a map instead of a list', { a: base }, 'webhooks', /must be a list/],
    ['a string entry', ['https://x.example/'], 'webhooks[0]', /must be an object/],
    ['a missing id', [{ ...base, id: undefined }], 'webhooks[0].id', /letters, digits/],
    ['an id with a slash', [{ ...base, id: 'a/b' }], 'webhooks[0].id', /letters, digits/],
    ['an ftp URL', [{ ...base, url: 'ftp://x.example/' }], 'webhooks[0].url', /http\(s\) URL/],
    ['no URL', [{ ...base, url: undefined }], 'webhooks[0].url', /http\(s\) URL/],
    ['a relative URL', [{ ...base, url: '/hook' }], 'webhooks[0].url', /http\(s\) URL/],
    ['a fragment', [{ ...base, url: 'https://x.example/#a' }], 'webhooks[0].url', /fragment/],
    ['no secret', [{ ...base, secret: undefined }], 'webhooks[0].secret', /required/],
    ['a short secret', [{ ...base, secret: 'short' }], 'webhooks[0].secret', /at least 16/],
    ['a numeric secret', [{ ...base, secret: 1234567890123456 }], 'webhooks[0].secret', /string/],
    ['secret and secretEnv', [{ ...base, secretEnv: 'S' }], 'webhooks[0].secret', /not both/],
    [
      'an unset secretEnv',
      [{ ...base, secret: undefined, secretEnv: 'UNSET_SECRET' }],
      'webhooks[0].secretEnv',
      /UNSET_SECRET is not set/,
    ],
    [
      'a short secret from the environment',
      [{ ...base, secret: undefined, secretEnv: 'SHORT' }],
      'webhooks[0].secretEnv',
      /at least 16/,
    ],
    [
      'a bad env name',
      [{ ...base, secret: undefined, secretEnv: 'A-B' }],
      'webhooks[0].secretEnv',
      /name of an environment variable/,
    ],
    ['a misspelt key', [{ ...base, maxAttempt: 3 }], 'webhooks[0].maxAttempt', /not a known key/],
    [
      'a misspelt filter key',
      [{ ...base, filter: { minSeverty: 'high' } }],
      'webhooks[0].filter.minSeverty',
      /not a known key/,
    ],
    [
      'an unknown class',
      [{ ...base, filter: { classes: ['person', 'ufo'] } }],
      'webhooks[0].filter.classes',
      /unknown class "ufo"/,
    ],
    [
      'a stream id that is not a string',
      [{ ...base, filter: { streamIds: ['cam-1', 7] } }],
      'webhooks[0].filter.streamIds',
      /non-empty strings/,
    ],
    [
      'an unknown severity',
      [{ ...base, filter: { minSeverity: 'urgent' } }],
      'webhooks[0].filter.minSeverity',
      /info, low, medium, high, critical/,
    ],
    ['zero attempts', [{ ...base, maxAttempts: 0 }], 'webhooks[0].maxAttempts', /whole number/],
    [
      'a budget under a second',
      [{ ...base, retryForMs: 500 }],
      'webhooks[0].retryForMs',
      /from 1000 to 2592000000/,
    ],
    [
      'a budget over 30 days',
      [{ ...base, retryForMs: 31 * 86_400_000 }],
      'webhooks[0].retryForMs',
      /whole number/,
    ],
    [
      'a budget as text',
      [{ ...base, retryForMs: '24h' }],
      'webhooks[0].retryForMs',
      /whole number/,
    ],
    ['no concurrency', [{ ...base, concurrency: 0 }], 'webhooks[0].concurrency', /from 1 to 64/],
    ['fractional attempts', [{ ...base, maxAttempts: 2.5 }], 'webhooks[0].maxAttempts', /whole/],
    ['a timeout as text', [{ ...base, timeoutMs: '5000' }], 'webhooks[0].timeoutMs', /whole/],
    [
      'a maximum below the initial backoff',
      [{ ...base, backoff: { initialMs: 500, maxMs: 100 } }],
      'webhooks[0].backoff.maxMs',
      /not be below initialMs/,
    ],
    [
      'a duplicate id',
      [base, { ...base, id: 'b' }, { ...base, url: 'https://y.example/' }],
      'webhooks[2].id',
      /"a" is already the id of webhooks\[0\]/,
    ],
  ];

  it.each(cases)('refuses %s, naming the key', (_name, raw, key, problem) => {
    const error = configError(() =>
      parseWebhookSubscriptions(raw, 'webhooks', { S: SECRET, SHORT: 'short' }),
    );
    expect(error.key).toBe(key);
    expect(error.message).toMatch(problem);
  });

  it('names keys under the prefix it is given, and never quotes a secret', () => {
    const error = configError(() =>
      parseWebhookSubscriptions([{ ...base, secret: 'tooshort-secret' }], 'serve.webhooks'),
    );
    expect(error.key).toBe('serve.webhooks[0].secret');
    expect(error.message).toBe(
      'configuration serve.webhooks[0].secret: must be a string of at least 16 characters',
    );
    expect(error.message).not.toContain('tooshort');
  });
});

describe('webhookMatches', () => {
  // glass_break trigger with person evidence, high, on cam-1
  const event: SecurityEvent = makeIncident(1);

  it('matches everything with an empty filter', () => {
    expect(webhookMatches({}, event)).toBe(true);
    expect(webhookMatches({ streamIds: [], classes: [] }, event)).toBe(true);
  });

  it('filters by stream id', () => {
    expect(webhookMatches({ streamIds: ['cam-1', 'cam-9'] }, event)).toBe(true);
    expect(webhookMatches({ streamIds: ['cam-2'] }, event)).toBe(false);
  });

  it("filters by site and zone: a site incident and its cameras' own", () => {
    const own = makeIncident(5, { site: 'hq', zone: 'lobby' });
    const siteWide = makeIncident(6, { site: 'hq', cameras: ['cam-1', 'cam-2'] });
    expect(webhookMatches({ sites: ['hq'] }, own)).toBe(true);
    expect(webhookMatches({ sites: ['hq'] }, siteWide)).toBe(true);
    expect(webhookMatches({ sites: ['depot'] }, own)).toBe(false);
    expect(webhookMatches({ sites: ['hq'] }, event)).toBe(false);
    expect(webhookMatches({ zones: ['lobby'] }, own)).toBe(true);
    expect(webhookMatches({ zones: ['lobby'] }, siteWide)).toBe(false);
  });

  it('reads site and zone filters from the file, and names a bad one', () => {
    const [subscription] = parseWebhookSubscriptions([
      {
        id: 'hq-desk',
        url: 'https://desk.example/hook',
        secret: SECRET,
        filter: { sites: ['hq', 'hq'], zones: ['lobby'] },
      },
    ]);
    expect(subscription!.filter).toEqual({ sites: ['hq'], zones: ['lobby'] });
    const error = configError(() =>
      parseWebhookSubscriptions([
        { id: 'x', url: 'https://desk.example/hook', secret: SECRET, filter: { sites: ['h q'] } },
      ]),
    );
    expect(error.message).toMatch(/webhooks\[0\]\.filter\.sites/);
  });

  it('matches a class on the trigger or on any evidence', () => {
    expect(webhookMatches({ classes: ['glass_break'] }, event)).toBe(true);
    expect(webhookMatches({ classes: ['person'] }, event)).toBe(true);
    expect(webhookMatches({ classes: ['gunshot', 'vehicle'] }, event)).toBe(false);
  });

  it('filters by minimum severity in the order info < low < medium < high < critical', () => {
    expect(webhookMatches({ minSeverity: 'high' }, event)).toBe(true);
    expect(webhookMatches({ minSeverity: 'info' }, event)).toBe(true);
    expect(webhookMatches({ minSeverity: 'critical' }, event)).toBe(false);
    expect(webhookMatches({ minSeverity: 'medium' }, makeIncident(2, { severity: 'low' }))).toBe(
      false,
    );
  });

  it('needs every filter to match', () => {
    const filter = {
      streamIds: ['cam-1'],
      classes: ['person' as const],
      minSeverity: 'high' as const,
    };
    expect(webhookMatches(filter, event)).toBe(true);
    expect(webhookMatches(filter, makeIncident(2, { streamId: 'cam-2' }))).toBe(false);
    expect(webhookMatches(filter, makeIncident(3, { severity: 'medium' }))).toBe(false);
    expect(webhookMatches(filter, makeIncident(4, { evidence: [] }))).toBe(false);
  });
});
