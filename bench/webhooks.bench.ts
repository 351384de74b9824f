/**
 * Webhook delivery through the durable outbox, measured against references run in the same
 * process on the same machine.
 *
 *   npm run bench:webhooks
 *   (node --expose-gc -r ts-node/register/transpile-only -r tsconfig-paths/register
 *    bench/webhooks.bench.ts; BENCH_EVENTS=n for the throughput part, BENCH_MEMORY_EVENTS=n
 *    for the memory part, BENCH_PART=memory|throughput for one of them)
 *
 * 1. Memory while one subscriber is down (connection refused) for "10 minutes of events":
 *    6000 events (10 a second for 10 minutes, enqueued as fast as they come), one dead and one
 *    healthy subscriber; heap and RSS sampled every 500 events after a forced GC. The dead
 *    subscriber's backlog must stay on disk: heap growth per 1000 events should be near zero
 *    and far below the bytes of the backlog itself (printed as the reference). Run first, so
 *    its RSS is not what the throughput runs leave behind.
 * 2. Throughput to a local receiver that verifies every signature:
 *    - write path: save + enqueue in one transaction per event, against save alone;
 *    - delivery: events/s from the outbox through the dispatcher (one subscription with
 *      concurrency 1, so one request at a time, like the reference) against bare signed POSTs
 *      with fetch; one subscription with concurrency 4; and four subscriptions delivering at
 *      once. Each attempt commits its count before the request (so a crash mid-request is
 *      resent as the next attempt) and the DELETE of its row after the 2xx (synchronous=FULL:
 *      an fsync of the WAL each): those commits, on the main thread, are most of the gap to
 *      the reference.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '@app/bus';
import type { SecurityEvent } from '@app/contracts';
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
  signWebhook,
  verifyWebhookSignature,
} from '@app/webhooks';
import { checkQuietMachine, machineLine, mb, row, x, runBench } from './bench.support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 2000);
const MEMORY_EVENTS = Number(process.env.BENCH_MEMORY_EVENTS ?? 6000);
const SAMPLE_EVERY = Number(process.env.BENCH_SAMPLE_EVERY ?? 500);
const SECRET = 'bench-secret-0123456789';
const SNAPSHOT: EvidenceRef = {
  name: 'snapshot',
  key: 'evidence/snapshot.jpg',
  contentType: 'image/jpeg',
  bytes: 48_213,
  sha256: 'ab'.repeat(32),
};

function incident(n: number, run: string): SecurityEvent {
  return {
    id: `${run}-${String(n).padStart(8, '0')}`,
    incidentId: `${run}-${String(n).padStart(8, '0')}`,
    version: 1,
    state: 'opened',
    streamId: `cam-${n % 8}`,
    rule: 'intrusion',
    title: 'Intrusion: glass break with a person in view',
    severity: 'high',
    startSec: n,
    endSec: n + 2,
    trigger: 'glass_break',
    triggers: ['glass_break'],
    evidence: [
      { cls: 'glass_break', modality: 'audio', score: 0.91, atSec: n },
      { cls: 'person', modality: 'video', score: 0.8, atSec: n + 1, box: [10, 20, 110, 220] },
    ],
  };
}

/** Answers 204 after checking the signature; counts, keeps nothing. */
class CountingReceiver {
  received = 0;
  forged = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const ok = verifyWebhookSignature(
          SECRET,
          req.headers['x-vigil-timestamp'] as string,
          Buffer.concat(chunks),
          req.headers['x-vigil-signature'] as string,
        );
        if (ok) this.received += 1;
        else this.forged += 1;
        res.writeHead(ok ? 204 : 401).end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function subscription(id: string, url: string, extra: Partial<WebhookSubscription> = {}) {
  return {
    id,
    url,
    secret: SECRET,
    filter: {},
    retryForMs: 86_400_000,
    timeoutMs: 5_000,
    // one request at a time, like the reference; the concurrent case says so
    concurrency: 1,
    backoff: { initialMs: 50, maxMs: 500 },
    ...extra,
  } satisfies WebhookSubscription;
}

interface History {
  dir: string;
  db: SqliteSqlDatabase;
  events: EventRepository;
  outbox: WebhookOutbox;
}

async function openHistory(): Promise<History> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-webhooks-'));
  const db = new SqliteSqlDatabase(new HistoryDatabase({ path: join(dir, 'history.db') }), true);
  return {
    dir,
    db,
    events: await EventRepository.open(db),
    outbox: await WebhookOutbox.open(db, {
      bodies: new WebhookBodyBuilder((id, ref) => `https://vigil.example/e/${id}/${ref.name}`),
    }),
  };
}

async function closeHistory(history: History): Promise<void> {
  await history.db.close();
  rmSync(history.dir, { recursive: true, force: true });
}

/** What fusion does per incident: one transaction for the event and its deliveries. */
async function record(
  history: History,
  event: SecurityEvent,
  subs: WebhookSubscription[],
): Promise<void> {
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
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** The reference: sign and POST each body with fetch, one at a time, reading each answer. */
async function bareFetch(url: string, bodies: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  for (const [i, body] of bodies.entries()) {
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'vigil-webhooks/0.1',
        'X-Vigil-Event-Id': String(i),
        'X-Vigil-Timestamp': String(timestamp),
        'X-Vigil-Signature': signWebhook(SECRET, timestamp, body),
        'X-Vigil-Delivery-Attempt': '1',
      },
      body,
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    if (res.status !== 204) throw new Error(`reference POST answered ${res.status}`);
  }
  return bodies.length / seconds(started);
}

/** The sender alone, without outbox or dispatcher, to split the cost. */
async function senderOnly(url: string, bodies: string[]): Promise<number> {
  const sender = new HttpSender();
  const started = process.hrtime.bigint();
  for (const [i, body] of bodies.entries()) {
    const timestamp = Math.floor(Date.now() / 1000);
    const outcome = await sender.send({
      url,
      headers: {
        'Content-Type': 'application/json',
        'X-Vigil-Event-Id': String(i),
        'X-Vigil-Timestamp': String(timestamp),
        'X-Vigil-Signature': signWebhook(SECRET, timestamp, body),
      },
      body,
      timeoutMs: 5_000,
    });
    if (outcome.kind !== 'ok') throw new Error(`sender got ${JSON.stringify(outcome)}`);
  }
  return bodies.length / seconds(started);
}

/** Enqueues `count` events for `subs`, then times the dispatcher draining the outbox. */
async function throughDispatcher(
  subs: WebhookSubscription[],
  count: number,
): Promise<{ writeRate: number; deliveryRate: number; deliveries: number }> {
  const history = await openHistory();
  const run = `d${subs.length}-${Date.now()}`;
  const writeStart = process.hrtime.bigint();
  for (let n = 1; n <= count; n++) await record(history, incident(n, run), subs);
  const writeRate = count / seconds(writeStart);
  const bus = new MemoryBus();
  const dispatcher = new WebhookDispatcher({ outbox: history.outbox, subscriptions: subs, bus });
  const started = process.hrtime.bigint();
  dispatcher.start();
  await until(async () => (await history.outbox.pendingCount()) === 0);
  const deliveryRate = (count * subs.length) / seconds(started);
  await dispatcher.stop();
  await bus.close();
  await closeHistory(history);
  return { writeRate, deliveryRate, deliveries: count * subs.length };
}

/** The write path without the outbox: save alone, one transaction per event. */
async function saveOnly(count: number): Promise<number> {
  const history = await openHistory();
  const run = `s-${Date.now()}`;
  const started = process.hrtime.bigint();
  for (let n = 1; n <= count; n++) {
    const event = incident(n, run);
    await history.events.save(event, {
      streamLabels: { site: 'HQ', camera: 'Lobby' },
      evidenceRefs: [SNAPSHOT],
    });
  }
  const rate = count / seconds(started);
  await closeHistory(history);
  return rate;
}

async function throughput(): Promise<void> {
  console.log(`\nThroughput, ${EVENTS} events, receiver on loopback verifying signatures`);
  const receiver = new CountingReceiver();
  const url = await receiver.listen();
  const builder = new WebhookBodyBuilder((id, ref) => `https://vigil.example/e/${id}/${ref.name}`);
  const bodies = Array.from({ length: EVENTS }, (_, i) =>
    builder.serialize({
      seq: i + 1,
      event: incident(i + 1, 'ref'),
      occurredAt: Date.now(),
      storedAt: Date.now(),
      streamLabels: { site: 'HQ', camera: 'Lobby' },
      evidenceRefs: [SNAPSHOT],
    }),
  );
  console.log(`   body ${Buffer.byteLength(bodies[0])} bytes`);
  await bareFetch(url, bodies.slice(0, 200)); // warm-up: JIT, connection
  await saveOnly(200);

  const refBefore = await bareFetch(url, bodies);
  const sender = await senderOnly(url, bodies);
  const save = await saveOnly(EVENTS);
  const one = await throughDispatcher([subscription('one', url)], EVENTS);
  const wide = await throughDispatcher([subscription('wide', url, { concurrency: 4 })], EVENTS);
  const four = await throughDispatcher(
    ['a', 'b', 'c', 'd'].map((id) => subscription(id, url)),
    Math.round(EVENTS / 4),
  );
  const refAfter = await bareFetch(url, bodies);
  const reference = (refBefore + refAfter) / 2;
  await receiver.close();
  if (receiver.forged > 0) throw new Error(`${receiver.forged} requests failed verification`);

  row('write: save alone (1 txn per event, fsync FULL)', `${save.toFixed(0)} ev/s`);
  row('write: save + enqueue 1 subscription', `${one.writeRate.toFixed(0)} ev/s`);
  row('write: save + enqueue 4 subscriptions', `${four.writeRate.toFixed(0)} ev/s`);
  row('  save+enqueue(1) / save alone', x(one.writeRate / save));
  row(
    'reference: bare signed fetch POSTs, in series',
    `${reference.toFixed(0)} ev/s`,
    `(before ${refBefore.toFixed(0)}, after ${refAfter.toFixed(0)})`,
  );
  row('HttpSender alone, in series', `${sender.toFixed(0)} ev/s`);
  row('outbox + dispatcher, 1 subscription', `${one.deliveryRate.toFixed(0)} ev/s`);
  row('outbox + dispatcher, 1 subscription, concurrency 4', `${wide.deliveryRate.toFixed(0)} ev/s`);
  row('outbox + dispatcher, 4 subscriptions (total)', `${four.deliveryRate.toFixed(0)} del/s`);
  row('  HttpSender / reference', x(sender / reference));
  row('  dispatcher(1) / reference', x(one.deliveryRate / reference));
  row('  dispatcher(1, concurrency 4) / reference', x(wide.deliveryRate / reference));
  row('  dispatcher(4) / reference', x(four.deliveryRate / reference));
}

interface Sample {
  events: number;
  heapUsed: number;
  rss: number;
  deadPending: number;
  healthyPending: number;
}

async function sample(events: number, history: History): Promise<Sample> {
  global.gc?.();
  const usage = process.memoryUsage();
  return {
    events,
    heapUsed: usage.heapUsed,
    rss: usage.rss,
    deadPending: await history.outbox.pendingCount('down'),
    healthyPending: await history.outbox.pendingCount('healthy'),
  };
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [px]) => s + px, 0) / n;
  const my = points.reduce((s, [, py]) => s + py, 0) / n;
  const num = points.reduce((s, [px, py]) => s + (px - mx) * (py - my), 0);
  const den = points.reduce((s, [px]) => s + (px - mx) ** 2, 0);
  return num / den;
}

async function memory(): Promise<void> {
  console.log(
    `\nMemory with one subscriber down, ${MEMORY_EVENTS} events ` +
      `(10/s for ${(MEMORY_EVENTS / 600).toFixed(0)}x10 min, compressed)` +
      (global.gc ? '' : '  [no --expose-gc: samples without a forced GC are noisier]'),
  );
  const receiver = new CountingReceiver();
  const healthyUrl = await receiver.listen();
  // bound and released: connection refused, at once, every attempt
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));

  const subs = [
    // keeps retrying for the whole run, never dead-lettered
    subscription('down', `http://127.0.0.1:${deadPort}/hook`, {
      backoff: { initialMs: 20, maxMs: 200 },
    }),
    subscription('healthy', healthyUrl),
  ];
  const history = await openHistory();
  const bus = new MemoryBus();
  const dispatcher = new WebhookDispatcher({ outbox: history.outbox, subscriptions: subs, bus });
  dispatcher.start();
  const run = `m-${Date.now()}`;
  const samples: Sample[] = [await sample(0, history)];
  let backlogBytes = 0;
  for (let n = 1; n <= MEMORY_EVENTS; n++) {
    await record(history, incident(n, run), subs);
    dispatcher.notify();
    if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (n % SAMPLE_EVERY === 0) {
      await until(async () => (await history.outbox.pendingCount('healthy')) < 50);
      samples.push(await sample(n, history));
    }
  }
  await until(async () => (await history.outbox.pendingCount('healthy')) === 0);
  backlogBytes = history.db.history.connection
    .prepare<[], { bytes: number }>(
      "SELECT sum(length(body)) AS bytes FROM webhook_outbox WHERE subscription_id = 'down'",
    )
    .get()!.bytes;
  const attempts = history.db.history.connection
    .prepare<[], { n: number }>(
      "SELECT attempts AS n FROM webhook_outbox WHERE subscription_id = 'down' ORDER BY event_seq LIMIT 1",
    )
    .get()!.n;
  const fileBytes = statSync(join(history.dir, 'history.db')).size;
  await dispatcher.stop();
  await bus.close();
  await receiver.close();
  await closeHistory(history);

  console.log('   events   heapUsed        rss   down pending   healthy pending');
  for (const s of samples) {
    console.log(
      `   ${String(s.events).padStart(6)} ${mb(s.heapUsed).padStart(10)} ${mb(s.rss).padStart(10)}` +
        `   ${String(s.deadPending).padStart(12)}   ${String(s.healthyPending).padStart(15)}`,
    );
  }
  // The second half: by then JIT, SQLite's page cache (capped) and undici's pool are warm, so
  // what still grows is what grows with the backlog.
  const steady = samples.slice(Math.floor(samples.length / 2));
  const first = steady[0];
  const last = steady[steady.length - 1];
  const perKiB = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const heapPer1000 = slope(steady.map((s) => [s.events / 1000, s.heapUsed]));
  const rssPer1000 = slope(steady.map((s) => [s.events / 1000, s.rss]));
  const backlogPer1000 = backlogBytes / (MEMORY_EVENTS / 1000);
  row('healthy subscriber received', `${receiver.received}`);
  row('down subscriber: attempts at its head so far', `${attempts}`);
  row('backlog of the down subscriber (bodies on disk)', perKiB(backlogBytes));
  row('history file size', mb(fileBytes));
  row(`heap growth per 1000 events, ${first.events}..${last.events}`, perKiB(heapPer1000));
  row(`rss growth per 1000 events, ${first.events}..${last.events}`, perKiB(rssPer1000));
  row('reference: backlog bytes per 1000 events', perKiB(backlogPer1000));
  row('  heap growth / backlog growth', x(heapPer1000 / backlogPer1000, 3));
  row(`heapUsed at ${last.events} / at ${first.events} events`, x(last.heapUsed / first.heapUsed));
  row(`rss at ${last.events} / at ${first.events} events`, x(last.rss / first.rss));
  row(
    `heapUsed at ${last.events} / at ${samples[1].events} events`,
    x(last.heapUsed / samples[1].heapUsed),
  );
}

async function main(): Promise<void> {
  console.log(`webhooks bench: ${machineLine()}`);
  await checkQuietMachine();
  const part = process.env.BENCH_PART ?? 'all';
  if (part !== 'throughput') await memory();
  if (part !== 'memory') await throughput();
}

runBench(main);
