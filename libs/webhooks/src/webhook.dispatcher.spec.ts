import type { Bus } from '@app/bus';
import type { SecurityEvent, WebhookDeadLetter } from '@app/contracts';
import { EventRepository, HistoryDatabase, SqliteSqlDatabase } from '@app/history';
import { strictMock } from '@app/testing';
import { makeIncident } from '@app/testing/incident.factory';
import { ManualTime, turns, until } from '../test/manual.time';
import { ScriptedSender, deferred, type SentRequest } from '../test/scripted.sender';
import { makeSubscription } from '../test/subscription.factory';
import { webhookDeliveryId } from './delivery-id';
import type { SendOutcome } from './http.sender';
import { RetryPolicy } from './retry.policy';
import { WebhookDispatcher, type DeliveryIds, type WebhookLogger } from './webhook.dispatcher';
import { WebhookOutbox } from './webhook.outbox';
import { verifyWebhookSignature } from './webhook.signer';
import { WEBHOOK_DEFAULTS, type WebhookSubscription } from './webhook-subscription';

const OK: SendOutcome = { kind: 'ok', status: 200 };
const UNAVAILABLE: SendOutcome = { kind: 'http', status: 503 };
const REFUSED: SendOutcome = { kind: 'network', error: 'ECONNREFUSED' };
const SECOND = 1_000;
const MINUTE = 60 * SECOND;

const subscription = (id: string, overrides: Partial<WebhookSubscription> = {}) =>
  makeSubscription(id, { backoff: { initialMs: SECOND, maxMs: MINUTE }, ...overrides });

interface Published {
  topic: string;
  key: string;
  value: WebhookDeadLetter;
  headers: Record<string, string>;
}

/** Small, seeded, deterministic: the jitter of a test run is the same every time. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('WebhookDispatcher', () => {
  let time: ManualTime;
  let db: SqliteSqlDatabase;
  let events: EventRepository;
  let outbox: WebhookOutbox;
  let sender: ScriptedSender;
  let published: Published[];
  let publish: jest.Mock;
  let bus: Bus;
  let logs: { level: string; message: string }[];
  let logger: WebhookLogger;
  let delivered: (DeliveryIds & { at: number })[];
  let dispatchers: WebhookDispatcher[];

  beforeEach(async () => {
    time = new ManualTime();
    db = new SqliteSqlDatabase(new HistoryDatabase({ path: ':memory:', clock: time }), true);
    events = await EventRepository.open(db, time);
    outbox = await WebhookOutbox.open(db, { clock: time });
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
    await db.close();
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
      observer: { delivered: (d) => delivered.push({ ...d, at: time.now() }) },
      stopGraceMs: 1_000,
      errorDelayMs: 250,
      ...overrides,
    });
    dispatchers.push(created);
    return created;
  }

  /** Stores events and queues their deliveries in one transaction, as fusion does. */
  async function record(
    subscriptions: WebhookSubscription[],
    ns: number[],
    overrides: (n: number) => Partial<SecurityEvent> = () => ({}),
  ): Promise<string[]> {
    const ids: string[] = [];
    for (const n of ns) {
      const event = makeIncident(n, overrides(n));
      await db.transaction(async (tx) => {
        await events.save(event, { occurredAt: time.now() }, tx);
        await outbox.enqueue((await events.get(event.id, tx))!, subscriptions, tx);
      });
      ids.push(event.id);
    }
    return ids;
  }

  /** Answers per event id from its own list (the last answer repeats), noting when each came. */
  function perEvent(script: Record<string, SendOutcome[]>, otherwise: SendOutcome = OK) {
    const sentAt: Record<string, number[]> = {};
    const answer = (request: SentRequest): SendOutcome => {
      const id = request.lower['x-vigil-event-id']!;
      (sentAt[id] ??= []).push(time.now());
      const answers = script[id];
      if (!answers) return otherwise;
      return answers.length > 1 ? answers.shift()! : answers[0]!;
    };
    return { answer, sentAt };
  }

  /**
   * Runs a manual clock forward from wake-up to wake-up (and to each planned moment) until
   * `done`: hours of backoff pass in no real time, and in the order they would.
   */
  async function drive(
    what: string,
    done: () => boolean | Promise<boolean>,
    plan: { at: number; run: () => unknown }[] = [],
    maxSteps = 5_000,
  ) {
    for (let step = 0; step < maxSteps; step++) {
      await turns(3);
      if ((await done()) && plan.length === 0) return;
      const wake = time.nextWakeAt;
      const next = plan[0];
      if (next && (wake === undefined || next.at <= wake)) {
        time.advance(Math.max(0, next.at - time.now()));
        await plan.shift()!.run();
        continue;
      }
      if (wake === undefined) throw new Error(`nothing left to wait for, still not ${what}`);
      time.advance(wake - time.now());
    }
    throw new Error(`still not ${what} after ${maxSteps} steps`);
  }

  const eventIds = (requests: SentRequest[]) => requests.map((r) => r.lower['x-vigil-event-id']);
  const attempts = (requests: SentRequest[]) =>
    requests.map((r) => r.lower['x-vigil-delivery-attempt']);
  const idsOf = (...ns: number[]) => ns.map((n) => makeIncident(n).id);

  it('delivers to each subscriber, signed, first attempts in event order, `concurrency` at a time', async () => {
    const all = subscription('all', { concurrency: 2 });
    const cam2 = subscription('cam2', { filter: { streamIds: ['cam-2'] }, concurrency: 1 });
    // answers take a turn, so overlapping requests would show in maxInFlight
    const slowOk = async () => (await turns(1), OK);
    sender.script(all.url, slowOk).script(cam2.url, slowOk);
    await record([all, cam2], [1, 2, 3, 4, 5], (n) => ({
      streamId: n % 2 === 0 ? 'cam-2' : 'cam-1',
    }));

    dispatcher([all, cam2]).start();
    await until('all delivered', async () => (await outbox.pendingCount()) === 0);

    expect(eventIds(sender.sentTo(all.url))).toEqual(idsOf(1, 2, 3, 4, 5));
    expect(eventIds(sender.sentTo(cam2.url))).toEqual(idsOf(2, 4));
    expect(sender.maxInFlight.get(all.url)).toBe(2);
    expect(sender.maxInFlight.get(cam2.url)).toBe(1);
    const first = sender.sentTo(all.url)[0];
    const timestamp = String(Math.floor(time.now() / 1000));
    expect(first.lower).toEqual({
      'content-type': 'application/json',
      'user-agent': 'vigil-webhooks/0.1',
      'x-vigil-event-id': makeIncident(1).id,
      'x-vigil-delivery-id': webhookDeliveryId('all', makeIncident(1).id),
      'x-vigil-delivery-attempt': '1',
      'x-vigil-timestamp': timestamp,
      'x-vigil-signature': expect.stringMatching(/^sha256=[0-9a-f]{64}$/),
    });
    expect(first.timeoutMs).toBe(2_000);
    expect(JSON.parse(first.body)).toMatchObject({
      type: 'vigil.incident',
      version: 2,
      record: { event: { id: idsOf(1)[0], severity: 'SEVERITY_HIGH' } },
    });
    for (const request of sender.requests) {
      const secret = request.url === all.url ? all.secret : cam2.secret;
      const { 'x-vigil-timestamp': ts, 'x-vigil-signature': signature } = request.lower;
      expect(verifyWebhookSignature(secret, ts, request.body, signature, { now: time.now() })).toBe(
        true,
      );
    }
    expect(delivered).toHaveLength(7);
    expect(published).toEqual([]);
  });

  it('retries a failing event on its own clock while the events behind it go ahead', async () => {
    time.auto = false;
    const sub = subscription('a');
    const [failing, fine, later] = idsOf(1, 2, 3);
    const { answer, sentAt } = perEvent({
      [failing!]: [UNAVAILABLE, { kind: 'timeout', afterMs: 2_000 }, REFUSED, OK],
    });
    sender.script(sub.url, answer);
    const start = time.now();
    await record([sub], [1, 2]);
    const running = dispatcher([sub]);
    running.start();

    await drive('all delivered', async () => (await outbox.pendingCount()) === 0, [
      // queued while the first event waits out its backoff
      { at: start + 200, run: async () => (await record([sub], [3]), running.notify()) },
    ]);

    const at = (id: string) => delivered.find((d) => d.eventId === id)!.at - start;
    expect({ fine: at(fine!), later: at(later!) }).toEqual({ fine: 0, later: 200 });
    // random() = 0.5 under ceilings of 1 s, 2 s, 4 s
    expect(sentAt[failing!]!.map((t) => t - start)).toEqual([0, 500, 1_500, 3_500]);
    const ofFailing = sender.requests.filter((r) => r.lower['x-vigil-event-id'] === failing);
    expect(attempts(ofFailing)).toEqual(['1', '2', '3', '4']);
    // one delivery id for every attempt, each attempt signed anew with its own timestamp
    expect(new Set(ofFailing.map((r) => r.lower['x-vigil-delivery-id']))).toEqual(
      new Set([webhookDeliveryId('a', failing!)]),
    );
    const stamps = ofFailing.map((r) => Number(r.lower['x-vigil-timestamp']));
    expect(stamps[3]! - stamps[0]!).toBe(3);
    expect(logs.map((l) => [l.level, l.message])).toEqual([
      ['warn', expect.stringContaining('attempt 1 failed (HTTP 503); next in 500 ms')],
      ['warn', expect.stringContaining('attempt 2 failed (no answer within 2000 ms); next in')],
      ['warn', expect.stringContaining('attempt 3 failed (connection failed: ECONNREFUSED)')],
      ['log', `webhooks a (https://hooks.example.com/a): event ${failing} delivered on attempt 4`],
    ]);
  });

  it('lets an event whose receiver hangs hold up none of the others', async () => {
    const sub = subscription('a', { concurrency: 2 });
    const [stuck] = idsOf(1);
    const answer = deferred<SendOutcome>();
    sender.script(sub.url, (request) =>
      request.lower['x-vigil-event-id'] === stuck ? answer.promise : OK,
    );
    await record([sub], [1, 2, 3, 4]);

    dispatcher([sub]).start();
    await until('the others delivered', async () => (await outbox.pendingCount()) === 1);

    expect(delivered.map((d) => d.eventId)).toEqual(idsOf(2, 3, 4));
    answer.resolve(OK);
    await until('all delivered', async () => (await outbox.pendingCount()) === 0);
    expect(sender.maxInFlight.get(sub.url)).toBe(2);
  });

  it('loses nothing to a receiver down for 10 minutes, with the default retry settings', async () => {
    // Each seed is a different jitter; 0.999… is the longest wait every time.
    for (const random of [mulberry32(1), mulberry32(2), mulberry32(3), () => 0.999_999]) {
      time = new ManualTime(time.now() + 86_400_000, false);
      outbox = await WebhookOutbox.open(db, { clock: time });
      delivered = [];
      published = [];
      const soc = makeSubscription(`soc-${dispatchers.length}`, {
        retryForMs: WEBHOOK_DEFAULTS.retryForMs,
        backoff: { ...WEBHOOK_DEFAULTS.backoff },
      });
      const down = time.now();
      const back = down + 10 * MINUTE;
      const answers = new ScriptedSender().script(soc.url, () =>
        time.now() < back ? REFUSED : OK,
      );
      const running = dispatcher([soc], { sender: answers, policy: new RetryPolicy(random) });
      running.start();
      // incidents before and all through the outage, and one as it ends
      const ns = [1, 2, 3, 4, 5, 6, 7].map((n) => n + 10 * dispatchers.length);
      const offsets = [0, 0, 1, 2, 4, 7, 10].map((m) => m * MINUTE);
      const plan = ns.map((n, i) => ({
        at: down + offsets[i]!,
        run: async () => (await record([soc], [n]), running.notify()),
      }));

      await drive('all delivered', () => delivered.length === ns.length, plan);

      expect(delivered.map((d) => d.eventId).sort()).toEqual(idsOf(...ns).sort());
      expect(await outbox.listDead({ subscriptionId: soc.id })).toEqual([]);
      expect(published).toEqual([]);
      expect(await outbox.pendingCount(soc.id)).toBe(0);
      // none waited more than one capped backoff (5 min) after the receiver came back
      const latest = Math.max(...delivered.map((d) => d.at));
      expect(latest - back).toBeLessThanOrEqual(WEBHOOK_DEFAULTS.backoff.maxMs);
      await running.stop();
    }
  });

  it('gives up when the time budget runs out, the last attempt at its very end', async () => {
    time.auto = false;
    const sub = subscription('a', {
      retryForMs: MINUTE,
      backoff: { initialMs: SECOND, maxMs: 10 * SECOND },
    });
    const { answer, sentAt } = perEvent({}, { kind: 'http', status: 500 });
    sender.script(sub.url, answer);
    const start = time.now();
    const [id] = await record([sub], [1]);
    dispatcher([sub]).start();

    await drive('dead-lettered', () => published.length === 1);

    const times = sentAt[id!]!.map((t) => t - start);
    expect(times.at(-1)).toBe(MINUTE);
    // 0.5 of ceilings 1, 2, 4, 8, 10, 10… s until the minute is up
    expect(times.slice(0, 6)).toEqual([0, 500, 1_500, 3_500, 7_500, 12_500]);
    expect(published[0]!.value).toMatchObject({
      eventId: id,
      deliveryId: webhookDeliveryId('a', id!),
      attempts: times.length,
      reason: `HTTP 500, gave up after ${times.length} attempts in 1 min`,
      lastStatus: 500,
    });
    expect(await outbox.pendingCount()).toBe(0);
    expect(logs).toContainEqual({
      level: 'error',
      message: expect.stringContaining(`event ${id} given up on: HTTP 500, gave up after`),
    });
  });

  it('still gives up after maxAttempts where an old configuration sets it, and warns', async () => {
    const sub = subscription('a', { maxAttempts: 3 });
    sender.script(sub.url, { kind: 'http', status: 500 });
    const [id] = await record([sub], [1]);

    dispatcher([sub]).start();
    await until('dead letter', () => published.length === 1);

    expect(attempts(sender.requests)).toEqual(['1', '2', '3']);
    expect(published[0]!.value).toMatchObject({
      eventId: id,
      attempts: 3,
      reason: 'HTTP 500, gave up after 3 attempts (maxAttempts)',
    });
    expect(logs[0]).toEqual({
      level: 'warn',
      message:
        'webhooks a: maxAttempts 3 gives up on a delivery after that many attempts even ' +
        'within retryForMs (24 h); remove it to retry for the whole budget',
    });
  });

  it('honours Retry-After, as seconds or as an HTTP-date, up to the backoff maximum', async () => {
    time.auto = false;
    const sub = subscription('a');
    const { answer, sentAt } = perEvent({
      [idsOf(1)[0]!]: [
        { kind: 'http', status: 429, retryAfter: '7' },
        { kind: 'http', status: 503, retryAfter: 'Thu, 01 Jan 2026 12:00:37 GMT' },
        { kind: 'http', status: 429, retryAfter: '3600' },
        OK,
      ],
    });
    sender.script(sub.url, answer);
    const start = time.now();
    await record([sub], [1]);

    dispatcher([sub]).start();
    await drive('delivered', async () => (await outbox.pendingCount()) === 0);

    expect(sentAt[idsOf(1)[0]!]!.map((t) => t - start)).toEqual([0, 7_000, 37_000, 97_000]);
  });

  it('gives up at once on a 4xx other than 429, dead-letters it and goes on', async () => {
    const sub = subscription('a');
    const [first] = idsOf(1);
    sender.script(sub.url, (r) =>
      r.lower['x-vigil-event-id'] === first ? { kind: 'http', status: 404 } : OK,
    );
    await record([sub], [1, 2]);
    const body = (await outbox.due('a', time.now(), 1))[0]!.body;

    dispatcher([sub]).start();
    await until('done', async () => (await outbox.pendingCount()) === 0 && published.length === 1);

    expect(eventIds(sender.requests)).toEqual(idsOf(1, 2));
    expect(published).toEqual([
      {
        topic: 'vigil.webhooks.dlq',
        key: 'a',
        value: {
          subscriptionId: 'a',
          url: 'https://hooks.example.com/a',
          eventId: first,
          deliveryId: webhookDeliveryId('a', first!),
          attempts: 1,
          reason: 'HTTP 404, not retried',
          lastStatus: 404,
          body: new TextEncoder().encode(body),
          failedAtMs: time.now(),
        },
        headers: { 'x-vigil-dlq-reason': 'HTTP 404, not retried', 'x-vigil-subscription-id': 'a' },
      },
    ]);
    expect(await outbox.listDead()).toEqual([
      expect.objectContaining({ eventId: first, attempts: 1, publishedAt: time.now() }),
    ]);
  });

  it('keeps the dead row when the bus refuses the letter, and publishes it once the bus is back', async () => {
    const sub = subscription('a');
    sender.script(sub.url, { kind: 'http', status: 410 });
    publish.mockRejectedValueOnce(new Error('broker not available'));
    await record([sub], [1]);

    dispatcher([sub], { deadLetterRetry: { initialMs: 100, maxMs: 1_000 } }).start();
    await until('published', () => published.length === 1);

    expect(publish).toHaveBeenCalledTimes(2);
    expect(time.slept).toContain(100);
    expect(logs).toContainEqual({
      level: 'error',
      message: expect.stringMatching(/not published yet \(broker not available\); kept/),
    });
    expect(await outbox.unpublished()).toEqual([]);
  });

  it('publishes at start the dead letters that a crash kept from the bus', async () => {
    const sub = subscription('a');
    const [id] = await record([sub], [1]);
    await outbox.kill((await outbox.due('a', time.now(), 1))[0]!.id, {
      url: 'https://hooks.example.com/a',
      attempts: 5,
      reason: 'x',
    });

    dispatcher([sub]).start();
    await until('published', () => published.length === 1);

    expect(published[0]!.value.eventId).toBe(id);
    expect(await outbox.unpublished()).toEqual([]);
  });

  it('lets a subscriber that hangs hold up nobody else', async () => {
    const stuck = subscription('stuck', { concurrency: 1 });
    const fine = subscription('fine');
    const answer = deferred<SendOutcome>();
    sender.script(stuck.url, () => answer.promise, OK).script(fine.url, OK);
    await record([stuck, fine], [1, 2, 3]);

    dispatcher([stuck, fine]).start();
    await until('fine delivered', async () => (await outbox.pendingCount('fine')) === 0);

    expect(eventIds(sender.sentTo(fine.url))).toEqual(idsOf(1, 2, 3));
    expect(eventIds(sender.sentTo(stuck.url))).toEqual(idsOf(1));
    expect(await outbox.pendingCount('stuck')).toBe(3);

    answer.resolve(OK);
    await until('stuck delivered', async () => (await outbox.pendingCount('stuck')) === 0);
    expect(eventIds(sender.sentTo(stuck.url))).toEqual(idsOf(1, 2, 3));
  });

  it('sleeps while there is nothing to send and wakes on notify', async () => {
    const sub = subscription('a');
    sender.script(sub.url, OK);
    const running = dispatcher([sub]);
    running.start();
    await turns(5);

    await record([sub], [1]);
    await turns(20);
    expect(sender.requests).toEqual([]);

    running.notify();
    await until('delivered', async () => (await outbox.pendingCount()) === 0);
    expect(eventIds(sender.requests)).toEqual(idsOf(1));
  });

  it('resumes pending rows after a restart, keeping their attempts and backoff', async () => {
    time.auto = false;
    const sub = subscription('a', { concurrency: 1 });
    const [, second] = idsOf(1, 2);
    sender.script(sub.url, OK, UNAVAILABLE);
    await record([sub], [1, 2, 3]);
    const first = dispatcher([sub]);
    first.start();
    await until('backing off', () => sender.requests.length === 3 && time.pendingSleeps === 1);
    await first.stop();
    // 2 failed and waits; 3 failed too and waits behind it
    expect(await outbox.due('a', time.now() + 500, 10)).toEqual([
      expect.objectContaining({ eventId: second, attempts: 1, nextAttemptAt: time.now() + 500 }),
      expect.objectContaining({ attempts: 1, nextAttemptAt: time.now() + 500 }),
    ]);

    const again = new ScriptedSender().script(sub.url, OK);
    dispatcher([sub], { sender: again }).start();
    await until('waiting out the backoff', () => time.pendingSleeps === 1);
    expect(again.requests).toEqual([]);
    time.advance(500);
    await until('delivered', async () => (await outbox.pendingCount()) === 0);

    expect(eventIds(again.requests)).toEqual(idsOf(2, 3));
    expect(attempts(again.requests)).toEqual(['2', '2']);
  });

  it('counts an attempt before it is sent: one cut off by a crash goes again as the next', async () => {
    time.auto = false;
    const sub = subscription('a');
    // The first process never hears back, as if killed mid-request: nothing after the send runs.
    const crashed = new ScriptedSender().script(
      sub.url,
      (request) =>
        new Promise<SendOutcome>((resolve) =>
          request.signal!.addEventListener('abort', () => resolve({ kind: 'aborted' })),
        ),
    );
    const [id] = await record([sub], [1]);
    const killed = dispatcher([sub], { sender: crashed });
    killed.start();
    await until('in flight', () => crashed.requests.length === 1);
    expect((await outbox.due('a', time.now(), 1))[0]).toMatchObject({ attempts: 1 });

    // the next process, on the same file
    const restarted = new ScriptedSender().script(sub.url, OK);
    dispatcher([sub], { sender: restarted }).start();
    await until('delivered', async () => (await outbox.pendingCount()) === 0);

    const [cut, again] = [crashed.requests[0]!, restarted.requests[0]!];
    expect([cut, again].map((r) => r.lower['x-vigil-delivery-attempt'])).toEqual(['1', '2']);
    expect(again.lower['x-vigil-delivery-id']).toBe(cut.lower['x-vigil-delivery-id']);
    expect(again.lower['x-vigil-delivery-id']).toBe(webhookDeliveryId('a', id!));
    expect(again.body).toBe(cut.body);

    // the "killed" one still holds its request: let it go, past its stop grace
    const gone = killed.stop();
    await until('waiting out the grace', () => time.pendingSleeps > 0);
    time.advance(1_000);
    await gone;
    expect(await outbox.pendingCount()).toBe(0);
  });

  it('lets an attempt in flight finish when stopping', async () => {
    time.auto = false;
    const sub = subscription('a');
    const answer = deferred<SendOutcome>();
    sender.script(sub.url, () => answer.promise);
    await record([sub], [1]);
    const running = dispatcher([sub]);
    running.start();
    await until('in flight', () => sender.requests.length === 1);

    const stopped = running.stop();
    answer.resolve(OK);
    await stopped;

    expect(await outbox.pendingCount()).toBe(0);
  });

  it('aborts an attempt that outlasts the stop grace, leaving it counted and due in its place', async () => {
    time.auto = false;
    const sub = subscription('a');
    const queuedAt = time.now();
    sender.script(
      sub.url,
      (request) =>
        new Promise<SendOutcome>((resolve) =>
          request.signal!.addEventListener('abort', () => resolve({ kind: 'aborted' })),
        ),
    );
    await record([sub], [1]);
    const running = dispatcher([sub]);
    running.start();
    await until('in flight', () => sender.requests.length === 1);

    const stopped = running.stop();
    await turns(5);
    expect(sender.requests[0]!.signal!.aborted).toBe(false);
    time.advance(1_000);
    await stopped;

    expect(sender.requests[0]!.signal!.aborted).toBe(true);
    expect((await outbox.due('a', time.now(), 1))[0]).toMatchObject({
      attempts: 1,
      nextAttemptAt: queuedAt,
    });
  });

  it('never logs a secret or the credentials in a URL', async () => {
    const sub = subscription('a', {
      url: 'https://hook-user:hunter2-password@hooks.example.com/in?token=tok-123',
      retryForMs: 5 * SECOND,
    });
    sender.script(sub.url, UNAVAILABLE);
    await record([sub], [1]);

    dispatcher([sub]).start();
    await until('dead letter', () => published.length === 1);

    expect(logs.length).toBeGreaterThanOrEqual(2);
    for (const { message } of logs) {
      expect(message).toContain('https://hooks.example.com/in');
      for (const secret of ['hunter2', 'hook-user', 'tok-123', sub.secret]) {
        expect(message).not.toContain(secret);
      }
    }
    expect(published[0]!.value.url).toBe('https://hooks.example.com/in');
  });

  it('logs an unexpected error and goes on after a pause', async () => {
    const sub = subscription('a');
    sender.script(sub.url, OK);
    await record([sub], [1]);
    jest.spyOn(outbox, 'due').mockImplementationOnce(async () => {
      throw new Error('database is locked');
    });

    dispatcher([sub]).start();
    await until('delivered', async () => (await outbox.pendingCount()) === 0);

    expect(logs).toContainEqual({
      level: 'error',
      message: 'webhooks a: database is locked; going on in 250 ms',
    });
    expect(time.slept).toEqual([250]);
  });

  it('warns about deliveries queued for a subscription no longer configured', async () => {
    await record([subscription('gone')], [1, 2]);
    dispatcher([subscription('a')]).start();
    await until('warned', () => logs.length > 0);
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
