import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BusMessage, MemoryBus } from '@app/bus';
import { Topics, type WebhookDeadLetter, webhookDeadLetterCodec } from '@app/contracts';
import {
  EventRepository,
  type EvidenceRef,
  HistoryDatabase,
  SqliteSqlDatabase,
} from '@app/history';
import {
  HttpSender,
  WebhookBodyBuilder,
  WebhookDispatcher,
  WebhookOutbox,
  type WebhookSubscription,
  parseWebhookSubscriptions,
  verifyWebhookSignature,
  webhookDeliveryId,
} from '@app/webhooks';
import { makeIncident } from '@app/testing/incident.factory';
import { SilentServer, WebhookReceiver, closedPort } from '../libs/webhooks/test/webhook.receiver';

/**
 * Webhooks for real: a file-backed history with its outbox, events saved through the real
 * EventRepository, the real HttpSender posting to HTTP servers on loopback that verify every
 * signature, and dead letters on the in-memory bus. Waits are bounded by jest's timeout, never
 * asserted on.
 */
jest.setTimeout(60_000);

const SNAPSHOT: EvidenceRef = {
  name: 'snapshot',
  key: 'evidence/snapshot.jpg',
  contentType: 'image/jpeg',
  bytes: 48_213,
  sha256: 'ab'.repeat(32),
};

async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('webhooks end to end', () => {
  let dir: string;
  let path: string;
  let open: { db: SqliteSqlDatabase; events: EventRepository; outbox: WebhookOutbox }[];
  let bus: MemoryBus;
  let deadLetters: BusMessage<WebhookDeadLetter>[];
  let dispatchers: WebhookDispatcher[];
  let servers: { close(): Promise<void> }[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-webhooks-'));
    path = join(dir, 'history.db');
    open = [];
    dispatchers = [];
    servers = [];
    bus = new MemoryBus();
    deadLetters = [];
    await bus.subscribe(Topics.webhookDeadLetters, 'dlq-reader', async (message) => {
      deadLetters.push(message);
    });
  });

  afterEach(async () => {
    await Promise.all(dispatchers.map((d) => d.stop()));
    await Promise.all(servers.map((s) => s.close()));
    await bus.close();
    await Promise.all(open.map(({ db }) => db.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The history file as a process opens it at start. */
  async function openHistory() {
    const db = new SqliteSqlDatabase(new HistoryDatabase({ path }), true);
    const events = await EventRepository.open(db);
    const outbox = await WebhookOutbox.open(db, {
      bodies: new WebhookBodyBuilder(
        (eventId, ref) => `https://vigil.example/evidence/${eventId}/${ref.name}`,
      ),
    });
    const opened = { db, events, outbox };
    open.push(opened);
    return opened;
  }

  function subscriptions(raw: unknown[]): WebhookSubscription[] {
    return parseWebhookSubscriptions(raw, 'webhooks', { HOOK_SECRET: 'from-env-secret-0123' });
  }

  function start(
    history: Awaited<ReturnType<typeof openHistory>>,
    subs: WebhookSubscription[],
    stopGraceMs = 5_000,
  ) {
    const dispatcher = new WebhookDispatcher({
      outbox: history.outbox,
      subscriptions: subs,
      bus,
      sender: new HttpSender(),
      stopGraceMs,
    });
    dispatchers.push(dispatcher);
    dispatcher.start();
    return dispatcher;
  }

  /** What fusion does: store the event and queue its deliveries in one transaction. */
  async function record(
    history: Awaited<ReturnType<typeof openHistory>>,
    subs: WebhookSubscription[],
    ns: number[],
  ): Promise<string[]> {
    const ids: string[] = [];
    for (const n of ns) {
      const event = makeIncident(n);
      await history.db.transaction(async (tx) => {
        const saved = await history.events.save(
          event,
          { streamLabels: { site: 'HQ', camera: 'Lobby' }, evidenceRefs: [SNAPSHOT] },
          tx,
        );
        if (saved.inserted) {
          await history.outbox.enqueue((await history.events.get(event.id, tx))!, subs, tx);
        }
      });
      ids.push(event.id);
    }
    return ids;
  }

  it('delivers signed bodies, each accepted once, failing events retried on their own', async () => {
    const secret = 'from-env-secret-0123';
    const receiver = await WebhookReceiver.start(secret, (request) =>
      request.index < 3 ? { status: 503 } : { status: 200 },
    );
    servers.push(receiver);
    const subs = subscriptions([
      {
        id: 'soc',
        url: receiver.url,
        secretEnv: 'HOOK_SECRET',
        backoff: { initialMs: 20, maxMs: 100 },
      },
    ]);
    const history = await openHistory();
    const dispatcher = start(history, subs);

    const sent = await record(history, subs, [1, 2, 3, 4, 5]);
    dispatcher.notify();
    await waitFor('five accepted', () => receiver.accepted.length === 5);

    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    expect(receiver.requests).toHaveLength(8);
    expect(receiver.accepted.map((r) => r.eventId).sort()).toEqual([...sent].sort());
    // every event's attempts count up from 1 under one delivery id; the 503s were retried
    for (const id of sent) {
      const mine = receiver.requests.filter((r) => r.eventId === id);
      expect(mine.map((r) => r.attempt)).toEqual(mine.map((_, i) => i + 1));
      expect(new Set(mine.map((r) => r.headers['x-vigil-delivery-id'])).size).toBe(1);
    }
    expect(new Set(receiver.requests.map((r) => r.headers['x-vigil-delivery-id'])).size).toBe(5);
    const first = receiver.accepted.find((r) => r.eventId === sent[0])!;
    expect(first.method).toBe('POST');
    expect(first.path).toBe('/hooks/vigil');
    expect(first.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'vigil-webhooks/0.1',
      'x-vigil-event-id': sent[0],
      'x-vigil-delivery-id': webhookDeliveryId('soc', sent[0]!),
    });
    // the signature really depends on the secret
    expect(
      verifyWebhookSignature(
        'another-secret-0123456',
        first.headers['x-vigil-timestamp'] as string,
        first.body,
        first.headers['x-vigil-signature'] as string,
      ),
    ).toBe(false);
    expect(JSON.parse(first.body.toString('utf8'))).toMatchObject({
      type: 'vigil.incident',
      version: 2,
      record: {
        event: {
          id: sent[0],
          streamId: 'cam-1',
          trigger: 'glass_break',
          severity: 'SEVERITY_HIGH',
          evidence: [
            { cls: 'glass_break', modality: 'MODALITY_AUDIO' },
            { cls: 'person', modality: 'MODALITY_VIDEO', box: [10, 20, 110, 220] },
          ],
        },
        streamLabels: { camera: 'Lobby', site: 'HQ' },
        evidence: [{ name: 'snapshot', sha256: SNAPSHOT.sha256, bytes: '48213' }],
      },
      evidenceUrls: { snapshot: `https://vigil.example/evidence/${sent[0]}/snapshot` },
    });
    await waitFor('outbox empty', async () => (await history.outbox.pendingCount()) === 0);
    expect(await history.outbox.listDead()).toEqual([]);
    expect(deadLetters).toEqual([]);
  });

  it('dead-letters what a silent receiver never answers while another subscriber keeps up', async () => {
    const silent = await SilentServer.start();
    const timeline: string[] = [];
    let silentPendingWhenHealthyDone: Promise<number> = Promise.resolve(-1);
    const healthy = await WebhookReceiver.start(
      'healthy-secret-0123456',
      () => ({ status: 200 }),
      (request) => {
        timeline.push(`healthy ${request.eventId}`);
        if (timeline.length === 3)
          silentPendingWhenHealthyDone = history.outbox.pendingCount('mute');
      },
    );
    servers.push(silent, healthy);
    const subs = subscriptions([
      {
        id: 'mute',
        url: `http://ops:pa55word@127.0.0.1:${silent.port}/hook?token=t0ken`,
        secret: 'mute-secret-01234567',
        timeoutMs: 300,
        maxAttempts: 3,
        backoff: { initialMs: 20, maxMs: 50 },
      },
      { id: 'healthy', url: healthy.url, secret: 'healthy-secret-0123456' },
    ]);
    const history = await openHistory();
    await bus.subscribe(Topics.webhookDeadLetters, 'timeline', async ({ value }) => {
      timeline.push(`dead ${value.eventId}`);
    });
    const dispatcher = start(history, subs);

    const sent = await record(history, subs, [1, 2, 3]);
    dispatcher.notify();
    await waitFor('three dead letters', () => deadLetters.length === 3);

    // the healthy subscriber had everything before the silent one's first event was given up on
    expect(timeline.slice(0, 3)).toEqual(sent.map((id) => `healthy ${id}`));
    expect(timeline.slice(3).sort()).toEqual(sent.map((id) => `dead ${id}`).sort());
    expect(await silentPendingWhenHealthyDone).toBe(3);
    // every timed-out attempt dropped its connection, so they do not pile up (undici keeps a
    // spare one open after an abort)
    expect(silent.connections).toBeGreaterThanOrEqual(9);
    await waitFor('timed-out connections closed', () => silent.openConnections <= 2);
    const bodies = new Map((await history.outbox.listDead()).map((d) => [d.eventId, d.body]));
    expect(deadLetters.map((m) => m.key)).toEqual(['mute', 'mute', 'mute']);
    expect(deadLetters.map((m) => m.value.eventId).sort()).toEqual([...sent].sort());
    deadLetters.forEach(({ value, headers }) => {
      expect(value).toEqual({
        subscriptionId: 'mute',
        url: `http://127.0.0.1:${silent.port}/hook`,
        eventId: value.eventId,
        deliveryId: webhookDeliveryId('mute', value.eventId),
        attempts: 3,
        // a configuration from before the retry budget still caps attempts
        reason: 'no answer within 300 ms, gave up after 3 attempts (maxAttempts)',
        body: new TextEncoder().encode(bodies.get(value.eventId)),
        failedAtMs: expect.any(Number),
      });
      expect(headers['x-vigil-dlq-reason']).toBe(value.reason);
      expect(JSON.parse(Buffer.from(value.body).toString('utf8')).record.event.id).toBe(
        value.eventId,
      );
      // what the Kafka bus would carry
      expect(webhookDeadLetterCodec.decode(webhookDeadLetterCodec.encode(value))).toEqual(value);
    });
    expect(await history.outbox.pendingCount()).toBe(0);
    await waitFor(
      'letters marked published',
      async () => (await history.outbox.unpublished()).length === 0,
    );
    expect((await history.outbox.listDead()).map((d) => d.eventId).sort()).toEqual(
      [...sent].sort(),
    );
  });

  it('picks up a backlog left by a stopped dispatcher from the same file, nothing twice', async () => {
    const receiver = await WebhookReceiver.start('restart-secret-012345', () => ({
      status: 200,
      delayMs: 5,
    }));
    servers.push(receiver);
    // one at a time: with nothing failing, they arrive in event order
    const subs = subscriptions([
      { id: 'soc', url: receiver.url, secret: receiver.secret, concurrency: 1 },
    ]);
    const before = await openHistory();
    const first = start(before, subs);
    const sent = await record(
      before,
      subs,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    first.notify();
    await waitFor('five accepted', () => receiver.accepted.length >= 5);

    await first.stop();
    const deliveredBefore = receiver.accepted.length;
    expect(await before.outbox.pendingCount()).toBe(20 - deliveredBefore);
    await before.db.close();

    const after = await openHistory();
    expect(await after.outbox.pendingCount()).toBe(20 - deliveredBefore);
    start(after, subs);
    await waitFor('all accepted', () => receiver.accepted.length === 20);

    expect(deliveredBefore).toBeLessThan(20);
    expect(receiver.accepted.map((r) => r.eventId)).toEqual(sent);
    expect(receiver.requests).toHaveLength(20);
    await waitFor('outbox empty', async () => (await after.outbox.pendingCount()) === 0);
  });

  it('delivers again an attempt cut off by a shutdown, counted, with the same ids and bytes', async () => {
    let holdFirst = true;
    const receiver = await WebhookReceiver.start('restart-secret-012345', () => {
      if (holdFirst) {
        holdFirst = false;
        return { status: 200, hang: true };
      }
      return { status: 200 };
    });
    servers.push(receiver);
    const subs = subscriptions([
      { id: 'soc', url: receiver.url, secret: receiver.secret, concurrency: 1 },
    ]);
    const before = await openHistory();
    const first = start(before, subs, 50);
    const sent = await record(before, subs, [1, 2]);
    first.notify();
    await waitFor('first request held', () => receiver.requests.length === 1);

    await first.stop();
    await before.db.close();
    start(await openHistory(), subs);
    await waitFor('both accepted', () => receiver.accepted.length === 2);

    const [cut, again, second] = receiver.requests;
    expect([cut!.eventId, again!.eventId, second!.eventId]).toEqual([sent[0], sent[0], sent[1]]);
    expect(again!.body.equals(cut!.body)).toBe(true);
    expect(again!.headers['x-vigil-delivery-id']).toBe(cut!.headers['x-vigil-delivery-id']);
    // the receiver may have got the cut-off attempt: it counts
    expect([cut!.attempt, again!.attempt, second!.attempt]).toEqual([1, 2, 1]);
    expect(receiver.accepted.map((r) => r.eventId)).toEqual(sent);
  });

  it('resends as attempt 2 what a SIGKILLed process was sending', async () => {
    let held = false;
    const receiver = await WebhookReceiver.start('killed-secret-0123456', () => {
      if (held) return { status: 204 };
      held = true;
      return { status: 204, hang: true };
    });
    servers.push(receiver);
    const raw = [{ id: 'soc', url: receiver.url, secret: receiver.secret }];
    const subs = subscriptions(raw);
    const history = await openHistory();
    const [id] = await record(history, subs, [1]);
    await history.db.close();

    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        join(__dirname, 'support', 'webhook-dispatcher.child.ts'),
      ],
      {
        cwd: join(__dirname, '..'),
        env: { ...process.env, HISTORY_PATH: path, SUBSCRIPTIONS: JSON.stringify(raw) },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor('the request in flight', () => receiver.requests.length === 1);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const after = await openHistory();
    expect(await after.outbox.due('soc', Date.now(), 10)).toEqual([
      expect.objectContaining({ eventId: id, attempts: 1 }),
    ]);
    start(after, subs);
    await waitFor('accepted', () => receiver.accepted.length === 1);

    const [cut, again] = receiver.requests;
    expect([cut!.attempt, again!.attempt]).toEqual([1, 2]);
    expect(again!.headers['x-vigil-delivery-id']).toBe(webhookDeliveryId('soc', id!));
    expect(again!.headers['x-vigil-delivery-id']).toBe(cut!.headers['x-vigil-delivery-id']);
    expect(again!.body.equals(cut!.body)).toBe(true);
  });
});

describe('HttpSender against real servers', () => {
  const sender = new HttpSender();
  const post = (url: string, timeoutMs = 2_000, signal?: AbortSignal) =>
    sender.send({
      url,
      headers: { 'Content-Type': 'application/json' },
      body: '{"eventId":"e"}',
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
  let servers: { close(): Promise<void> }[] = [];

  afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  /** An HTTP server answering each request with `handle`; counts its TCP connections. */
  async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void) {
    const server = createServer(handle);
    const stats = { connections: 0 };
    server.on('connection', () => (stats.connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, stats };
  }

  it('hands back the status and Retry-After, and follows no redirect', async () => {
    const replies: [number, Record<string, string>, string][] = [
      [204, {}, ''],
      [201, {}, 'created'],
      [503, { 'Retry-After': '120' }, 'busy'],
      [429, { 'Retry-After': 'Wed, 21 Oct 2026 07:28:00 GMT' }, ''],
      [302, { Location: '/elsewhere' }, ''],
      [410, {}, 'gone'],
    ];
    const paths: string[] = [];
    const { url } = await serve((req, res) => {
      paths.push(req.url ?? '');
      const [status, headers, body] = replies[paths.length - 1];
      req.resume();
      res.writeHead(status, headers).end(body);
    });

    const outcomes = [];
    for (let i = 0; i < replies.length; i++) outcomes.push(await post(url));

    expect(outcomes).toEqual([
      { kind: 'ok', status: 204 },
      { kind: 'ok', status: 201 },
      { kind: 'http', status: 503, retryAfter: '120' },
      { kind: 'http', status: 429, retryAfter: 'Wed, 21 Oct 2026 07:28:00 GMT' },
      { kind: 'http', status: 302 },
      { kind: 'http', status: 410 },
    ]);
    expect(paths).toEqual(Array(replies.length).fill('/hook'));
  });

  it('times out on a server that never answers, and reports a refused connection', async () => {
    const silent = await SilentServer.start();
    servers.push(silent);

    expect(await post(`http://127.0.0.1:${silent.port}/hook`, 200)).toEqual({
      kind: 'timeout',
      afterMs: 200,
    });
    expect(await post(`http://127.0.0.1:${await closedPort()}/hook`)).toEqual({
      kind: 'network',
      error: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it('says aborted, not timeout, when its caller gives up first', async () => {
    const silent = await SilentServer.start();
    servers.push(silent);
    const controller = new AbortController();
    const outcome = post(`http://127.0.0.1:${silent.port}/hook`, 10_000, controller.signal);
    await waitFor('connected', () => silent.connections === 1);
    controller.abort();
    expect(await outcome).toEqual({ kind: 'aborted' });
  });

  it('sends URL credentials as basic auth, since fetch refuses them in the URL', async () => {
    let seen: { path?: string; authorization?: string } = {};
    const { url } = await serve((req, res) => {
      seen = { path: req.url, authorization: req.headers.authorization };
      req.resume();
      res.writeHead(200).end();
    });

    const withUser = url.replace('http://', 'http://ops:p%40ss@') + '?x=1';
    expect(await post(withUser)).toEqual({ kind: 'ok', status: 200 });

    expect(seen).toEqual({
      path: '/hook?x=1',
      authorization: `Basic ${Buffer.from('ops:p@ss').toString('base64')}`,
    });
  });

  it('reads small answers to the end, so one kept-alive connection serves every request', async () => {
    const { url, stats } = await serve((req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('x'.repeat(60_000));
    });
    for (let i = 0; i < 20; i++) expect(await post(url)).toEqual({ kind: 'ok', status: 200 });
    // an unread body pins its connection: 20 requests would need 20 of them
    expect(stats.connections).toBeLessThanOrEqual(2);
  });

  it('drops a huge answer after a little of it, closing its connection', async () => {
    let written = 0;
    let closed = false;
    const { url } = await serve((req, res) => {
      req.socket.once('close', () => (closed = true));
      req.resume();
      res.writeHead(200);
      // 64 MiB, streamed as the client reads
      const chunk = Buffer.alloc(64 * 1024);
      const more = () => {
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      more();
    });

    expect(await post(url)).toEqual({ kind: 'ok', status: 200 });
    // left unread, the response would hold its socket open, paused, until garbage collection
    await waitFor('connection closed', () => closed, 5_000);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });
});
