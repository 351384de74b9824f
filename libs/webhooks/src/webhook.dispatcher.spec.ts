import type { Bus } from '@app/bus';
import type { SecurityEvent, WebhookDeadLetter } from '@app/contracts';
import { EventRepository, HistoryDatabase } from '@app/history';
import { strictMock } from '@app/testing';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime, turns, until } from '../test/manual.time';
import { ScriptedSender, deferred, type SentRequest } from '../test/scripted.sender';
import type { SendOutcome } from './http.sender';
import { RetryPolicy } from './retry.policy';
import { WebhookDispatcher, type WebhookLogger } from './webhook.dispatcher';
import { WebhookOutbox } from './webhook.outbox';
import { verifyWebhookSignature } from './webhook.signer';
import type { WebhookSubscription } from './webhook-subscription';

const OK: SendOutcome = { kind: 'ok', status: 200 };
const UNAVAILABLE: SendOutcome = { kind: 'http', status: 503 };

function subscription(
  id: string,
  overrides: Partial<WebhookSubscription> = {},
): WebhookSubscription {
  return {
    id,
    url: `https://hooks.example.com/${id}`,
    secret: `secret-of-${id}-0123456789`,
    filter: {},
    maxAttempts: 5,
    timeoutMs: 2_000,
    backoff: { initialMs: 1_000, maxMs: 60_000 },
    ...overrides,
  };
}

interface Published {
  topic: string;
  key: string;
  value: WebhookDeadLetter;
  headers: Record<string, string>;
}

describe('WebhookDispatcher', () => {
  let time: ManualTime;
  let db: HistoryDatabase;
  let events: EventRepository;
  let outbox: WebhookOutbox;
  let sender: ScriptedSender;
  let published: Published[];
  let publish: jest.Mock;
  let bus: Bus;
  let logs: { level: string; message: string }[];
  let logger: WebhookLogger;
  let delivered: { subscriptionId: string; eventId: string; attempt: number }[];
  let dispatchers: WebhookDispatcher[];

  beforeEach(() => {
    time = new ManualTime();
    db = new HistoryDatabase({ path: ':memory:', clock: time });
    events = new EventRepository(db, time);
    outbox = new WebhookOutbox(db, { clock: time });
    sender = new ScriptedSender();
    published = [];
    publish = jest.fn(async (topic: { name: string }, key: string, value, headers) => {
      published.push({ topic: topic.name, key, value, headers });
    });
    bus = strictMock<Bus>('bus', { publish });
    logs = [];
    logger = strictMock<WebhookLogger>('logger', {
      log: (message) => logs.push({ level: 'log', message }),
      warn: (message) => logs.push({ level: 'warn', message }),
      error: (message) => logs.push({ level: 'error', message }),
    });
    delivered = [];
    dispatchers = [];
  });

  afterEach(async () => {
    // Loops still waiting end at once; a test that holds a request settles it first.
    time.auto = false;
    await Promise.all(dispatchers.map((d) => d.stop()));
    db.close();
  });

  function dispatcher(
    subscriptions: WebhookSubscription[],
    overrides: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {},
  ): WebhookDispatcher {
    const created = new WebhookDispatcher({
      outbox,
      subscriptions,
      bus,
      sender,
      clock: time,
      sleeper: time,
      policy: new RetryPolicy(() => 0.5),
      logger,
      observer: { delivered: (d) => delivered.push(d) },
      stopGraceMs: 1_000,
      errorDelayMs: 250,
      ...overrides,
    });
    dispatchers.push(created);
    return created;
  }

  /** Stores events and queues their deliveries in one transaction, as fusion does. */
  function record(
    subscriptions: WebhookSubscription[],
    ns: number[],
    overrides: (n: number) => Partial<SecurityEvent> = () => ({}),
  ): string[] {
    return ns.map((n) => {
      const event = makeIncident(n, overrides(n));
      db.transaction(() => {
        events.save(event, { occurredAt: time.now() });
        outbox.enqueue(events.get(event.id)!, subscriptions);
      });
      return event.id;
    });
  }

  const eventIds = (requests: SentRequest[]) => requests.map((r) => r.lower['x-vigil-event-id']);
  const attempts = (requests: SentRequest[]) =>
    requests.map((r) => r.lower['x-vigil-delivery-attempt']);
  const idsOf = (...ns: number[]) => ns.map((n) => makeIncident(n).id);

  it('delivers to each subscriber in event order, one request at a time, signed', async () => {
    const all = subscription('all');
    const cam2 = subscription('cam2', { filter: { streamIds: ['cam-2'] } });
    // answers take a turn, so overlapping requests would show in maxInFlight
    const slowOk = async () => (await turns(1), OK);
    sender.script(all.url, slowOk).script(cam2.url, slowOk);
    record([all, cam2], [1, 2, 3, 4], (n) => ({ streamId: n % 2 === 0 ? 'cam-2' : 'cam-1' }));

    dispatcher([all, cam2]).start();
    await until('all delivered', () => outbox.pendingCount() === 0);

    expect(eventIds(sender.sentTo(all.url))).toEqual(idsOf(1, 2, 3, 4));
    expect(eventIds(sender.sentTo(cam2.url))).toEqual(idsOf(2, 4));
    expect(sender.maxInFlight.get(all.url)).toBe(1);
    expect(sender.maxInFlight.get(cam2.url)).toBe(1);
    const first = sender.sentTo(all.url)[0];
    const timestamp = String(Math.floor(time.now() / 1000));
    expect(first.lower).toEqual({
      'content-type': 'application/json',
      'user-agent': 'vigil-webhooks/0.1',
      'x-vigil-event-id': makeIncident(1).id,
      'x-vigil-timestamp': timestamp,
      'x-vigil-signature': expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
      'x-vigil-delivery-attempt': '1',
    });
    expect(first.timeoutMs).toBe(2_000);
    expect(JSON.parse(first.body)).toMatchObject({ type: 'vigil.incident', eventId: idsOf(1)[0] });
    for (const request of sender.requests) {
      const secret = request.url === all.url ? all.secret : cam2.secret;
      const { 'x-vigil-timestamp': ts, 'x-vigil-signature': signature } = request.lower;
      expect(verifyWebhookSignature(secret, ts, request.body, signature, { now: time.now() })).toBe(
        true,
      );
    }
    expect(delivered).toHaveLength(6);
    expect(published).toEqual([]);
  });

  it('retries a failing head with jittered exponential backoff, holding back what follows', async () => {
    const sub = subscription('a');
    sender.script(
      sub.url,
      UNAVAILABLE,
      { kind: 'timeout', afterMs: 2_000 },
      { kind: 'network', error: 'ECONNREFUSED' },
      OK,
    );
    record([sub], [1, 2]);
    const start = time.now();

    dispatcher([sub]).start();
    await until('all delivered', () => outbox.pendingCount() === 0);

    expect(eventIds(sender.requests)).toEqual(idsOf(1, 1, 1, 1, 2));
    expect(attempts(sender.requests)).toEqual(['1', '2', '3', '4', '1']);
    // random() = 0.5 under ceilings of 1 s, 2 s, 4 s
    expect(time.slept).toEqual([500, 1_000, 2_000]);
    expect(time.now() - start).toBe(3_500);
    // each attempt is signed anew, with its own timestamp
    const stamps = sender.requests.map((r) => Number(r.lower['x-vigil-timestamp']));
    expect(stamps[3] - stamps[0]).toBe(3);
    expect(logs.map((l) => [l.level, l.message])).toEqual([
      ['warn', expect.stringContaining('attempt 1/5 failed (HTTP 503); next in 500 ms')],
      [
        'warn',
        expect.stringContaining('attempt 2/5 failed (no answer within 2000 ms); next in 1000 ms'),
      ],
      ['warn', expect.stringContaining('attempt 3/5 failed (connection failed: ECONNREFUSED)')],
      [
        'log',
        `webhooks a (https://hooks.example.com/a): event ${idsOf(1)[0]} delivered on attempt 4`,
      ],
    ]);
  });

  it('honours Retry-After, as seconds or as an HTTP-date, up to the backoff maximum', async () => {
    const sub = subscription('a');
    sender.script(
      sub.url,
      { kind: 'http', status: 429, retryAfter: '7' },
      () => ({
        kind: 'http',
        status: 503,
        retryAfter: new Date(time.now() + 30_000).toUTCString(),
      }),
      { kind: 'http', status: 429, retryAfter: '3600' },
      OK,
    );
    record([sub], [1]);

    dispatcher([sub]).start();
    await until('delivered', () => outbox.pendingCount() === 0);

    expect(time.slept).toEqual([7_000, 30_000, 60_000]);
    expect(attempts(sender.requests)).toEqual(['1', '2', '3', '4']);
  });

  it('gives up at once on a 4xx other than 429, dead-letters it and goes on', async () => {
    const sub = subscription('a');
    sender.script(sub.url, { kind: 'http', status: 404 }, OK);
    const [first] = record([sub], [1, 2]);
    const body = outbox.head('a')!.body;

    dispatcher([sub]).start();
    await until('done', () => outbox.pendingCount() === 0 && published.length === 1);

    expect(eventIds(sender.requests)).toEqual(idsOf(1, 2));
    expect(published).toEqual([
      {
        topic: 'vigil.webhooks.dlq',
        key: 'a',
        value: {
          subscriptionId: 'a',
          url: 'https://hooks.example.com/a',
          eventId: first,
          attempts: 1,
          reason: 'HTTP 404, not retried',
          lastStatus: 404,
          body: new TextEncoder().encode(body),
          failedAtMs: time.now(),
        },
        headers: { 'x-vigil-dlq-reason': 'HTTP 404, not retried', 'x-vigil-subscription-id': 'a' },
      },
    ]);
    expect(outbox.listDead()).toEqual([
      expect.objectContaining({ eventId: first, attempts: 1, publishedAt: time.now() }),
    ]);
  });

  it('dead-letters a delivery after its last attempt', async () => {
    const sub = subscription('a', { maxAttempts: 3 });
    sender.script(sub.url, { kind: 'http', status: 500 });
    const [id] = record([sub], [1]);

    dispatcher([sub]).start();
    await until('dead letter', () => published.length === 1);

    expect(attempts(sender.requests)).toEqual(['1', '2', '3']);
    expect(published[0].value).toMatchObject({
      eventId: id,
      attempts: 3,
      reason: 'HTTP 500, gave up after 3 attempts',
      lastStatus: 500,
    });
    expect(outbox.pendingCount()).toBe(0);
    expect(logs).toContainEqual({
      level: 'error',
      message: expect.stringContaining(
        `event ${id} given up on: HTTP 500, gave up after 3 attempts`,
      ),
    });
  });

  it('keeps the dead row when the bus refuses the letter, and publishes it once the bus is back', async () => {
    const sub = subscription('a', { maxAttempts: 1 });
    sender.script(sub.url, UNAVAILABLE);
    publish.mockRejectedValueOnce(new Error('broker not available'));
    record([sub], [1]);

    dispatcher([sub], { deadLetterRetry: { initialMs: 100, maxMs: 1_000 } }).start();
    await until('published', () => published.length === 1);

    expect(publish).toHaveBeenCalledTimes(2);
    expect(time.slept).toContain(100);
    expect(logs).toContainEqual({
      level: 'error',
      message: expect.stringMatching(/not published yet \(broker not available\); kept/),
    });
    expect(outbox.unpublished()).toEqual([]);
  });

  it('publishes at start the dead letters that a crash kept from the bus', async () => {
    const sub = subscription('a');
    const [id] = record([sub], [1]);
    outbox.kill(outbox.head('a')!.id, {
      url: 'https://hooks.example.com/a',
      attempts: 5,
      reason: 'x',
    });

    dispatcher([sub]).start();
    await until('published', () => published.length === 1);

    expect(published[0].value.eventId).toBe(id);
    expect(outbox.unpublished()).toEqual([]);
  });

  it('lets a subscriber that hangs hold up nobody else', async () => {
    const stuck = subscription('stuck');
    const fine = subscription('fine');
    const answer = deferred<SendOutcome>();
    sender.script(stuck.url, () => answer.promise, OK).script(fine.url, OK);
    record([stuck, fine], [1, 2, 3]);

    dispatcher([stuck, fine]).start();
    await until('fine delivered', () => outbox.pendingCount('fine') === 0);

    expect(eventIds(sender.sentTo(fine.url))).toEqual(idsOf(1, 2, 3));
    expect(eventIds(sender.sentTo(stuck.url))).toEqual(idsOf(1));
    expect(outbox.pendingCount('stuck')).toBe(3);

    answer.resolve(OK);
    await until('stuck delivered', () => outbox.pendingCount('stuck') === 0);
    expect(eventIds(sender.sentTo(stuck.url))).toEqual(idsOf(1, 2, 3));
  });

  it('sleeps while there is nothing to send and wakes on notify', async () => {
    const sub = subscription('a');
    sender.script(sub.url, OK);
    const running = dispatcher([sub]);
    running.start();
    await turns(5);

    record([sub], [1]);
    await turns(20);
    expect(sender.requests).toEqual([]);

    running.notify();
    await until('delivered', () => outbox.pendingCount() === 0);
    expect(eventIds(sender.requests)).toEqual(idsOf(1));
  });

  it('resumes pending rows after a restart, keeping their attempts and backoff', async () => {
    time.auto = false;
    const sub = subscription('a');
    sender.script(sub.url, OK, UNAVAILABLE);
    record([sub], [1, 2, 3]);
    const first = dispatcher([sub]);
    first.start();
    await until('backing off', () => sender.requests.length === 2 && time.pendingSleeps === 1);
    await first.stop();
    expect(outbox.head('a')).toMatchObject({
      eventId: idsOf(2)[0],
      attempts: 1,
      nextAttemptAt: time.now() + 500,
    });

    const again = new ScriptedSender().script(sub.url, OK);
    dispatcher([sub], { sender: again }).start();
    await until('waiting out the backoff', () => time.pendingSleeps === 1);
    expect(again.requests).toEqual([]);
    time.advance(500);
    await until('delivered', () => outbox.pendingCount() === 0);

    expect(eventIds(again.requests)).toEqual(idsOf(2, 3));
    expect(attempts(again.requests)).toEqual(['2', '1']);
  });

  it('lets an attempt in flight finish when stopping', async () => {
    time.auto = false;
    const sub = subscription('a');
    const answer = deferred<SendOutcome>();
    sender.script(sub.url, () => answer.promise);
    record([sub], [1]);
    const running = dispatcher([sub]);
    running.start();
    await until('in flight', () => sender.requests.length === 1);

    const stopped = running.stop();
    answer.resolve(OK);
    await stopped;

    expect(outbox.pendingCount()).toBe(0);
  });

  it('aborts an attempt that outlasts the stop grace, leaving it pending and uncounted', async () => {
    time.auto = false;
    const sub = subscription('a');
    sender.script(
      sub.url,
      (request) =>
        new Promise<SendOutcome>((resolve) =>
          request.signal!.addEventListener('abort', () => resolve({ kind: 'aborted' })),
        ),
    );
    record([sub], [1]);
    const running = dispatcher([sub]);
    running.start();
    await until('in flight', () => sender.requests.length === 1);

    const stopped = running.stop();
    await turns(5);
    expect(sender.requests[0].signal!.aborted).toBe(false);
    time.advance(1_000);
    await stopped;

    expect(sender.requests[0].signal!.aborted).toBe(true);
    expect(outbox.head('a')).toMatchObject({ attempts: 0 });
  });

  it('never logs a secret or the credentials in a URL', async () => {
    const sub = subscription('a', {
      url: 'https://hook-user:hunter2-password@hooks.example.com/in?token=tok-123',
      maxAttempts: 2,
    });
    sender.script(sub.url, UNAVAILABLE);
    record([sub], [1]);

    dispatcher([sub]).start();
    await until('dead letter', () => published.length === 1);

    expect(logs.length).toBeGreaterThanOrEqual(2);
    for (const { message } of logs) {
      expect(message).toContain('https://hooks.example.com/in');
      for (const secret of ['hunter2', 'hook-user', 'tok-123', sub.secret]) {
        expect(message).not.toContain(secret);
      }
    }
    expect(published[0].value.url).toBe('https://hooks.example.com/in');
  });

  it('logs an unexpected error and goes on after a pause', async () => {
    const sub = subscription('a');
    sender.script(sub.url, OK);
    record([sub], [1]);
    jest.spyOn(outbox, 'head').mockImplementationOnce(() => {
      throw new Error('database is locked');
    });

    dispatcher([sub]).start();
    await until('delivered', () => outbox.pendingCount() === 0);

    expect(logs).toContainEqual({
      level: 'error',
      message: 'webhooks a: database is locked; going on in 250 ms',
    });
    expect(time.slept).toEqual([250]);
  });

  it('warns about deliveries queued for a subscription no longer configured', () => {
    record([subscription('gone')], [1, 2]);
    dispatcher([subscription('a')]).start();
    expect(logs).toEqual([
      {
        level: 'warn',
        message: expect.stringMatching(/^webhooks: 2 deliveries queued for subscription gone/),
      },
    ]);
  });

  it('refuses two subscriptions with one id, a second start, and a start after stop', async () => {
    expect(() => dispatcher([subscription('a'), subscription('a')])).toThrow(/used twice/);
    const once = dispatcher([subscription('a')]);
    once.start();
    expect(() => once.start()).toThrow(/starts once/);
    const stoppedFirst = dispatcher([subscription('a')]);
    await stoppedFirst.stop();
    expect(() => stoppedFirst.start()).toThrow(/starts once/);
  });
});
