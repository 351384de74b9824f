/**
 * Subscribe fan-out: K concurrent EventService.Subscribe streams on one `vigil serve`, every
 * incident delivered to every subscriber, and the latency each extra subscriber adds against
 * one subscriber measured in the same run.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/subscribe-fanout.bench.ts
 *   (npm run bench:fanout; BENCH_SUBSCRIBERS=1,10,100,250, BENCH_RATE=20 incidents/s,
 *   BENCH_EVENTS=200 per steady phase, BENCH_BURST=200, BENCH_SLOW=0 skips the slow-subscriber
 *   variant, BENCH_PROFILE=1 profiles the K=100 burst, BENCH_WAIT_SEC=n waits for a quiet machine)
 *
 * The server: startServer in this process with the real models, its SQLite history and evidence
 * folder in a temp dir, gRPC on a free loopback port and one viewer token (a VMS gets a viewer
 * token; the guard runs once per call, so it costs nothing per event). Incidents are injected
 * where IncidentRecorder puts them once their evidence is stored: save + get in one transaction,
 * then feed.publish. No webhooks are configured, so the recorder's outbox step would be a no-op
 * and is left out. Each incident is an `intrusion` (glass_break + person, three evidence refs,
 * stream labels) as fusion and the recorder make them.
 *
 * The subscribers: real @grpc/grpc-js clients in a child process, the VMS side. A child, not
 * this process, so the server's CPU time is its own and its event loop does not also decode the
 * clients' protobuf; both processes read CLOCK_MONOTONIC (process.hrtime), so receive time minus
 * publish time is the delivery latency. They still share the machine's cores: the clients' CPU
 * is printed beside the server's. Channels: one per 10 subscribers (a few VMS instances, each
 * multiplexing its streams on one HTTP/2 connection) and one per subscriber (each with its own
 * subchannel pool, hence its own connection: one VMS per subscriber).
 *
 * Per K and pace (steady BENCH_RATE/s, and a burst of one incident per event-loop turn): every
 * subscriber must get exactly the published ids in order, no loss, no duplicate (the bench fails
 * otherwise); latency p50/p95/p99/max over all (subscriber, incident) pairs, the p95 of the time
 * until the last subscriber had an incident, and p95(K) - p95(1) and p95(K) / p95(1) against the
 * K=1 run of the same pace. Server CPU (process.cpuUsage, less the idle rate measured first) per
 * incident and per incident per subscriber; the history reads Subscribe makes (counted by
 * wrapping this server's EventRepository, which the controller shares); RSS before, peak, after.
 *
 * The slow-subscriber variant: K=100, one subscriber paused (its stream not read) while 99 read,
 * at a rate that overfills its HTTP/2 window; the others' p95 against runs just before and just
 * after with nobody paused, the history rows the server read for the paused one (it stops when
 * the connection is full), RSS, and its catch-up once resumed, which must again be every
 * incident exactly once.
 *
 * Nothing is asserted about speed; delivery must be complete.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import {
  type Client,
  type ClientReadableStream,
  type ServiceError,
  credentials,
  loadPackageDefinition,
  status,
} from '@grpc/grpc-js';
import { apiPackageDefinition, grpcEventRecord } from '@app/api';
import type { SecurityEvent } from '@app/contracts';
import { eventId } from '@app/fusion';
import type { EventRepository, EvidenceRef, StoredEvent } from '@app/history';
import { loadServeConfig } from '@app/service';
import { bearer, modelsDir } from '@app/testing';
import { type RunningServer, startServer } from '../apps/vigil/src/serve/serve.command';
import { checkQuietMachine, machineLine, printProfile, profiled } from './bench.support';

const REPO_ROOT = join(__dirname, '..');
const CHILD_FLAG = '--vms-side';
const VIEWER_TOKEN = 'viewer-token-for-the-fanout-bench';
const SUBSCRIBERS = (process.env.BENCH_SUBSCRIBERS ?? '1,10,100,250').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const STEADY_EVENTS = Number(process.env.BENCH_EVENTS ?? 200);
const BURST_EVENTS = Number(process.env.BENCH_BURST ?? 200);
/** Fast enough, and long enough, that a paused stream's 64 KiB HTTP/2 window fills many times. */
const SLOW_RATE = 50;
const SLOW_EVENTS = 600;
const SHARED_CHANNEL = 10;
const WARMUP_EVENTS = 20;
const DELIVERY_TIMEOUT_MS = 60_000;
/** The paused subscriber's filter matches every incident but tells its history reads apart. */
const TAG_FILTER = { minSeverity: 'SEVERITY_LOW' };

// ---------------------------------------------------------------------------------------------
// Parent and child talk over IPC: one request, one reply, in order.

type Request =
  | {
      op: 'open';
      address: string;
      subscribers: number;
      perChannel: number;
      afterEventId: string;
      tagged: number[];
    }
  | { op: 'mark'; base: string }
  | { op: 'await'; count: number; except: number[]; timeoutMs: number }
  | { op: 'pause' | 'resume'; index: number }
  | { op: 'report' }
  | { op: 'close' };

interface Received {
  ids: string[];
  /** ms after the phase's base hrtime. */
  at: number[];
  error?: string;
}

interface Report {
  subs: Received[];
  /** The client process's CPU since the mark. */
  cpuUs: number;
}

type Reply = { ok: true; value?: unknown } | { ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// The VMS side (child process)

interface Subscriber extends Received {
  stream: ClientReadableStream<{ event: { id: string } }>;
}

function vmsSide(): void {
  const definition = loadPackageDefinition(apiPackageDefinition(['events'])) as unknown as {
    vigil: { v1: { EventService: new (...args: unknown[]) => Client } };
  };
  const EventService = definition.vigil.v1.EventService;
  let clients: Client[] = [];
  let subs: Subscriber[] = [];
  let closing = false;
  let base = process.hrtime.bigint();
  let cpuMark = process.cpuUsage();
  let waiter: { count: number; except: Set<number>; left: number; done: () => void } | undefined;

  const arrived = (i: number) => {
    if (!waiter || waiter.except.has(i) || subs[i]!.ids.length !== waiter.count) return;
    if (--waiter.left === 0) waiter.done();
  };

  const handle = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'open': {
        closing = false;
        const channels = Math.ceil(req.subscribers / req.perChannel);
        clients = Array.from(
          { length: channels },
          () =>
            new EventService(req.address, credentials.createInsecure(), {
              'grpc.use_local_subchannel_pool': 1,
            }),
        );
        subs = Array.from({ length: req.subscribers }, (_, i) => {
          const client = clients[Math.floor(i / req.perChannel)] as unknown as {
            Subscribe(request: object, metadata: unknown): Subscriber['stream'];
          };
          const stream = client.Subscribe(
            { afterEventId: req.afterEventId, filter: req.tagged.includes(i) ? TAG_FILTER : {} },
            bearer(VIEWER_TOKEN),
          );
          const sub: Subscriber = { ids: [], at: [], stream };
          stream.on('data', (record) => {
            sub.at.push(Number(process.hrtime.bigint() - base) / 1e6);
            sub.ids.push(record.event.id);
            arrived(i);
          });
          const fail = (reason: string) => {
            sub.error ??= reason;
            waiter?.done();
          };
          stream.on('error', (error: ServiceError) => {
            if (!(closing && error.code === status.CANCELLED))
              fail(`${error.code} ${error.details}`);
          });
          stream.on('end', () => closing || fail('the server ended the stream'));
          return sub;
        });
        return undefined;
      }
      case 'mark':
        base = BigInt(req.base);
        cpuMark = process.cpuUsage();
        for (const sub of subs) {
          sub.ids = [];
          sub.at = [];
        }
        return undefined;
      case 'await': {
        const except = new Set(req.except);
        const left = subs.filter((s, i) => !except.has(i) && s.ids.length < req.count).length;
        if (left === 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => waiter?.done(), req.timeoutMs);
          waiter = {
            count: req.count,
            except,
            left,
            done: () => {
              clearTimeout(timer);
              waiter = undefined;
              resolve();
            },
          };
        });
        return undefined;
      }
      case 'pause':
        subs[req.index]!.stream.pause();
        return undefined;
      case 'resume':
        subs[req.index]!.stream.resume();
        return undefined;
      case 'report': {
        const cpu = process.cpuUsage(cpuMark);
        const report: Report = {
          subs: subs.map(({ ids, at, error }) => ({ ids, at, ...(error ? { error } : {}) })),
          cpuUs: cpu.user + cpu.system,
        };
        return report;
      }
      case 'close':
        closing = true;
        for (const sub of subs) sub.stream.cancel();
        for (const client of clients) client.close();
        subs = [];
        clients = [];
        return undefined;
    }
  };

  process.on('message', (req: Request) => {
    handle(req).then(
      (value) => process.send!({ ok: true, value } satisfies Reply),
      (error: Error) => process.send!({ ok: false, error: error.stack ?? String(error) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** The parent's handle on the child. */
class VmsSide {
  private next?: { resolve: (value: unknown) => void; reject: (error: Error) => void };

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: Reply) => {
      const pending = this.next;
      this.next = undefined;
      if (reply.ok) pending?.resolve(reply.value);
      else pending?.reject(new Error(`VMS side: ${reply.error}`));
    });
    child.on('exit', (code) => this.next?.reject(new Error(`VMS side exited (${code})`)));
  }

  static start(): VmsSide {
    const child = fork(__filename, [CHILD_FLAG], {
      cwd: REPO_ROOT,
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
      stdio: 'inherit',
    });
    return new VmsSide(child);
  }

  ask<T = void>(req: Request): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.next = { resolve: resolve as (value: unknown) => void, reject };
      this.child.send(req);
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Incidents, injected where the recorder stores and publishes them

type Desk = RunningServer['runtime']['desk'];

const EVIDENCE_FILES: [name: string, contentType: string, bytes: number][] = [
  ['snapshot.jpg', 'image/jpeg', 61_440],
  ['spectrogram.png', 'image/png', 38_912],
  ['audio.wav', 'audio/wav', 320_044],
];

function intrusion(n: number) {
  const streamId = `cam-${String(n % 24).padStart(2, '0')}`;
  const atSec = 100 + n * 0.37;
  const id = eventId(streamId, 'intrusion', atSec);
  const event: SecurityEvent = {
    id,
    incidentId: id,
    version: 1,
    state: 'opened',
    streamId,
    rule: 'intrusion',
    title: 'Intrusion: glass break with a person in view',
    severity: 'high',
    startSec: atSec - 0.2,
    endSec: atSec + 4.6,
    trigger: 'glass_break',
    triggers: ['glass_break'],
    evidence: [
      { cls: 'glass_break', modality: 'audio', score: 0.87, atSec },
      {
        cls: 'person',
        modality: 'video',
        score: 0.74,
        atSec: atSec + 0.8,
        box: [412, 188, 596, 655],
      },
    ],
  };
  const evidenceRefs: EvidenceRef[] = EVIDENCE_FILES.map(([name, contentType, bytes]) => ({
    name,
    key: `${id}/${name}`,
    contentType,
    bytes,
    sha256: createHash('sha256').update(`${id}/${name}`).digest('hex'),
  }));
  const streamLabels = { site: 'warehouse-3', camera: `Dock door ${n % 24}` };
  return { event, evidenceRefs, streamLabels };
}

interface Published {
  id: string;
  /** ms after the phase's base hrtime, taken just before feed.publish (after the commit). */
  at: number;
}

class Incidents {
  private n = 0;
  lastId = '';
  /** Time in the storing transaction: the recorder's own cost, the same whatever K is. */
  storeNs = 0n;

  constructor(private readonly desk: Desk) {}

  async record(base: bigint): Promise<Published> {
    const { event, evidenceRefs, streamLabels } = intrusion(this.n++);
    const t0 = process.hrtime.bigint();
    const stored = await this.desk.database.transaction(async (tx) => {
      const saved = await this.desk.events.save(
        event,
        { occurredAt: Date.now(), streamLabels, evidenceRefs },
        tx,
      );
      if (!saved.inserted) throw new Error(`incident ${event.id} was already stored`);
      return (await this.desk.events.get(event.id, tx))!;
    });
    const now = process.hrtime.bigint();
    this.storeNs += now - t0;
    const at = Number(now - base) / 1e6;
    this.desk.feed.publish(stored);
    this.lastId = event.id;
    return { id: event.id, at };
  }

  async sample(): Promise<StoredEvent> {
    return (await this.desk.events.get(this.lastId))!;
  }
}

/**
 * Counts and times Subscribe's history reads: the controller holds this same repository, so
 * wrapping the instance's methods sees every read without touching the library.
 */
class ReadProbe {
  calls = 0;
  rows = 0;
  ns = 0n;
  taggedRows = 0;

  constructor(events: EventRepository) {
    const after = events.after.bind(events);
    const latestSeq = events.latestSeq.bind(events);
    events.after = async (cursor, filter, limit) => {
      const t0 = process.hrtime.bigint();
      const rows = await after(cursor, filter, limit);
      this.ns += process.hrtime.bigint() - t0;
      this.calls++;
      this.rows += rows.length;
      if (filter?.minSeverity) this.taggedRows += rows.length;
      return rows;
    };
    events.latestSeq = async () => {
      const t0 = process.hrtime.bigint();
      const seq = await latestSeq();
      this.ns += process.hrtime.bigint() - t0;
      this.calls++;
      return seq;
    };
  }

  reset(): void {
    this.calls = this.rows = this.taggedRows = 0;
    this.ns = 0n;
  }
}

class RssSampler {
  readonly before = process.memoryUsage.rss();
  peak = this.before;
  // unref: a phase that throws must not keep the process alive.
  private readonly timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }, 20).unref();

  stop(): { before: number; peak: number; after: number } {
    clearInterval(this.timer);
    const after = process.memoryUsage.rss();
    return { before: this.before, peak: Math.max(this.peak, after), after };
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

interface Setup {
  label: string;
  subscribers: number;
  perChannel: number;
}

type Pace = { kind: 'steady'; rate: number; events: number } | { kind: 'burst'; events: number };

interface PhaseResult {
  setup: Setup;
  pace: Pace;
  /** hrtime the phase's times are counted from. */
  base: bigint;
  published: Published[];
  report: Report;
  latencies: number[];
  /** Per incident, the latency of the last subscriber to get it. */
  lastPerEvent: number[];
  /** First publish to last delivery. */
  spanMs: number;
  cpuUs: number;
  wallMs: number;
  /** In the storing transactions. */
  storeMs: number;
  reads: { calls: number; rows: number; ms: number; taggedRows: number };
  rss: { before: number; peak: number; after: number };
}

class Bench {
  constructor(
    private readonly vms: VmsSide,
    private readonly incidents: Incidents,
    private readonly probe: ReadProbe,
    private readonly address: string,
    /** The server's CPU with nothing to do, taken off every phase. */
    readonly idleCpuUsPerMs: number,
  ) {}

  async open(setup: Setup, tagged: number[] = []): Promise<void> {
    // Every stream resumes after the newest stored incident, so its start is fixed before
    // anything is published and no incident can fall between "caught up" and "waiting".
    const afterEventId = (await this.incidents.record(process.hrtime.bigint())).id;
    await this.vms.ask({
      op: 'open',
      address: this.address,
      subscribers: setup.subscribers,
      perChannel: setup.perChannel,
      afterEventId,
      tagged,
    });
    // Warm-up: connections up, every handler waiting on the feed, the JIT warm.
    for (let i = 0; i < WARMUP_EVENTS; i++) {
      await nextTurn();
      await this.incidents.record(process.hrtime.bigint());
    }
    await this.awaitDelivery(WARMUP_EVENTS);
  }

  awaitDelivery(count: number, except: number[] = []): Promise<void> {
    return this.vms.ask({ op: 'await', count, except, timeoutMs: DELIVERY_TIMEOUT_MS });
  }

  pause(index: number): Promise<void> {
    return this.vms.ask({ op: 'pause', index });
  }

  resume(index: number): Promise<void> {
    return this.vms.ask({ op: 'resume', index });
  }

  report(): Promise<Report> {
    return this.vms.ask<Report>({ op: 'report' });
  }

  close(): Promise<void> {
    return this.vms.ask({ op: 'close' });
  }

  async phase(setup: Setup, pace: Pace, paused: number[] = []): Promise<PhaseResult> {
    const base = process.hrtime.bigint();
    await this.vms.ask({ op: 'mark', base: String(base) });
    this.probe.reset();
    this.incidents.storeNs = 0n;
    const rssSampler = new RssSampler();
    const cpu0 = process.cpuUsage();
    const published: Published[] = [];
    for (let i = 0; i < pace.events; i++) {
      if (pace.kind === 'steady') {
        const due = (i * 1000) / pace.rate;
        const wait = due - Number(process.hrtime.bigint() - base) / 1e6;
        if (wait > 0) await sleep(wait);
      } else {
        await nextTurn();
      }
      published.push(await this.incidents.record(base));
    }
    await this.awaitDelivery(pace.events, paused);
    const cpu = process.cpuUsage(cpu0);
    const wallMs = Number(process.hrtime.bigint() - base) / 1e6;
    const reads = {
      calls: this.probe.calls,
      rows: this.probe.rows,
      ms: Number(this.probe.ns) / 1e6,
      taggedRows: this.probe.taggedRows,
    };
    const storeMs = Number(this.incidents.storeNs) / 1e6;
    const rss = rssSampler.stop();
    const report = await this.report();
    verify(`${setup.label}, ${paceLabel(pace)}`, published, report.subs, paused);
    const counted = report.subs.filter((_, i) => !paused.includes(i));
    const latencies = counted.flatMap((s) => s.at.map((at, k) => at - published[k]!.at));
    const lastPerEvent = published.map((p, k) => Math.max(...counted.map((s) => s.at[k]! - p.at)));
    const lastAt = Math.max(...counted.map((s) => s.at[s.at.length - 1]!));
    return {
      setup,
      pace,
      base,
      published,
      report,
      latencies,
      lastPerEvent,
      spanMs: lastAt - published[0]!.at,
      cpuUs: Math.max(0, cpu.user + cpu.system - this.idleCpuUsPerMs * wallMs),
      wallMs,
      storeMs,
      reads,
      rss,
    };
  }
}

/** Every subscriber (but the paused) got exactly the published incidents, in order. */
function verify(label: string, published: Published[], subs: Received[], paused: number[]): void {
  const expected = published.map((p) => p.id);
  const expectedSet = new Set(expected);
  const problems: string[] = [];
  subs.forEach((sub, i) => {
    if (paused.includes(i)) return;
    if (sub.error) problems.push(`subscriber ${i}: ${sub.error}`);
    const seen = new Set(sub.ids);
    const duplicates = sub.ids.length - seen.size;
    const missing = expected.filter((id) => !seen.has(id)).length;
    const foreign = [...seen].filter((id) => !expectedSet.has(id)).length;
    const inOrder =
      sub.ids.length === expected.length && sub.ids.every((id, k) => id === expected[k]);
    if (duplicates || missing || foreign || !inOrder) {
      problems.push(
        `subscriber ${i}: got ${sub.ids.length}/${expected.length}, ${missing} missing, ` +
          `${duplicates} duplicates, ${foreign} not published${inOrder ? '' : ', out of order'}`,
      );
    }
  });
  if (problems.length > 0) {
    throw new Error(
      `${label}: NOT every incident reached every subscriber exactly once:\n  ` +
        `${problems.slice(0, 12).join('\n  ')}${problems.length > 12 ? `\n  ... ${problems.length - 12} more` : ''}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const paceLabel = (pace: Pace) =>
  pace.kind === 'steady' ? `steady ${pace.rate}/s` : `burst ${pace.events}`;

function latencyHeader(): void {
  console.log(
    `${'setup'.padEnd(26)}${'pace'.padEnd(12)}${'delivered'.padStart(13)}` +
      `${'p50'.padStart(8)}${'p95'.padStart(8)}${'p99'.padStart(8)}${'max'.padStart(8)}` +
      `${'all-p95'.padStart(9)}${'+p95'.padStart(8)}${'×p95(1)'.padStart(9)}${'deliv/s'.padStart(9)}`,
  );
}

/** K=1 at the same pace. */
interface Reference {
  p95: number;
  cpuUsPerIncident: number;
}

function latencyRow(r: PhaseResult, reference: Reference): void {
  const p95 = percentile(r.latencies, 95);
  const ref = reference.p95;
  const subs = r.latencies.length / r.published.length;
  console.log(
    `${r.setup.label.padEnd(26)}${paceLabel(r.pace).padEnd(12)}` +
      `${`${r.published.length}×${subs}`.padStart(13)}` +
      `${f(percentile(r.latencies, 50)).padStart(8)}${f(p95).padStart(8)}` +
      `${f(percentile(r.latencies, 99)).padStart(8)}${f(Math.max(...r.latencies)).padStart(8)}` +
      `${f(percentile(r.lastPerEvent, 95)).padStart(9)}${f(p95 - ref).padStart(8)}` +
      `${f(p95 / ref, 1).padStart(9)}${f((r.latencies.length / r.spanMs) * 1000, 0).padStart(9)}`,
  );
}

function costHeader(): void {
  console.log(
    `${'setup'.padEnd(26)}${'pace'.padEnd(12)}${'store wall µs'.padStart(14)}${'srv µs/inc'.padStart(11)}` +
      `${'µs/inc/sub'.padStart(11)}${'marg µs/sub'.padStart(12)}${'reads/inc/sub'.padStart(14)}` +
      `${'read µs/inc/sub'.padStart(16)}${'RSS MB before/peak/after'.padStart(26)}` +
      `${'client CPU'.padStart(11)}`,
  );
}

function costRow(r: PhaseResult, reference: Reference): void {
  const n = r.published.length;
  const k = r.latencies.length / n;
  const perInc = r.cpuUs / n;
  const refPerInc = reference.cpuUsPerIncident;
  const marginal = k > 1 ? (perInc - refPerInc) / (k - 1) : NaN;
  console.log(
    `${r.setup.label.padEnd(26)}${paceLabel(r.pace).padEnd(12)}` +
      `${f((r.storeMs * 1000) / n, 0).padStart(14)}${f(perInc, 0).padStart(11)}` +
      `${f(perInc / k, 1).padStart(11)}${f(marginal, 1).padStart(12)}` +
      `${f(r.reads.calls / (n * k), 2).padStart(14)}${f((r.reads.ms * 1000) / (n * k), 1).padStart(16)}` +
      `${`${mib(r.rss.before)}/${mib(r.rss.peak)}/${mib(r.rss.after)}`.padStart(26)}` +
      `${`${f((100 * r.report.cpuUs) / 1000 / r.wallMs, 0)} %`.padStart(11)}`,
  );
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  console.log(`Subscribe fan-out on one vigil serve\n${machineLine()}`);
  await checkQuietMachine();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-fanout-'));
  const configFile = join(dir, 'vigil.yaml');
  writeFileSync(
    configFile,
    [
      'grpc:',
      '  address: 127.0.0.1:0',
      'auth:',
      '  tokens:',
      `    - { name: vms, role: viewer, token: ${VIEWER_TOKEN} }`,
      'history:',
      '  path: ./data/history.sqlite',
      'evidence:',
      '  dir: ./data/evidence',
    ].join('\n'),
  );
  const config = loadServeConfig(configFile, { ...process.env, VIGIL_MODELS_DIR: modelsDir() });
  const server = await startServer(config, false);
  const vms = VmsSide.start();
  try {
    const desk = server.runtime.desk;
    const incidents = new Incidents(desk);
    const bench = new Bench(
      vms,
      incidents,
      new ReadProbe(desk.events),
      server.grpcAddress,
      await idleCpuUsPerMs(),
    );
    await incidents.record(process.hrtime.bigint());
    const wire = apiPackageDefinition(['events'])['vigil.v1.EventService'] as unknown as {
      Subscribe: { responseSerialize(value: object): Buffer };
    };
    const bytes = wire.Subscribe.responseSerialize(
      grpcEventRecord(await incidents.sample()),
    ).length;
    console.log(
      `server on ${server.grpcAddress} (viewer token), clients in child process; ` +
        `server idle CPU ${f(bench.idleCpuUsPerMs / 10, 1)} %; ${bytes} bytes per EventRecord\n`,
    );
    await fanOut(bench);
    if (process.env.BENCH_SLOW !== '0') await slowSubscriber(bench);
  } catch (error) {
    console.error(`\nFAILED: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    vms.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The server's CPU with nothing to do (the pipeline has no streams), taken off every phase. */
async function idleCpuUsPerMs(): Promise<number> {
  const mark = process.cpuUsage();
  const start = process.hrtime.bigint();
  await sleep(2000);
  const used = process.cpuUsage(mark);
  return (used.user + used.system) / (Number(process.hrtime.bigint() - start) / 1e6);
}

async function fanOut(bench: Bench): Promise<void> {
  const paces: Pace[] = [
    { kind: 'steady', rate: RATE, events: STEADY_EVENTS },
    { kind: 'burst', events: BURST_EVENTS },
  ];
  const results: PhaseResult[] = [];
  const run = async (setup: Setup) => {
    await bench.open(setup);
    for (const pace of paces) {
      const result = await profiledIf(
        process.env.BENCH_PROFILE === '1' &&
          pace.kind === 'burst' &&
          setup.subscribers === 100 &&
          setup.perChannel === SHARED_CHANNEL,
        `${setup.label}, ${paceLabel(pace)}`,
        () => bench.phase(setup, pace),
      );
      results.push(result);
      console.log(
        `  ${setup.label}, ${paceLabel(pace)}: ${result.published.length} incidents × ` +
          `${setup.subscribers} delivered, p95 ${f(percentile(result.latencies, 95))} ms`,
      );
    }
    await bench.close();
  };

  // A throw-away round first, so the reference does not pay for the JIT's warm-up.
  await bench.open({ label: 'warm-up', subscribers: 10, perChannel: 1 });
  await bench.close();
  // K=1 first and last, pooled: one run of it alone is at the mercy of whatever else the
  // machine did in those seconds, and the two show how far it drifted.
  await run({ label: 'K=1 (reference, first)', subscribers: 1, perChannel: 1 });
  for (const k of SUBSCRIBERS.filter((k) => k > 1)) {
    await run({
      label: `K=${k}, ${SHARED_CHANNEL}/channel`,
      subscribers: k,
      perChannel: SHARED_CHANNEL,
    });
    await run({ label: `K=${k}, 1/channel`, subscribers: k, perChannel: 1 });
  }
  await run({ label: 'K=1 (reference, last)', subscribers: 1, perChannel: 1 });

  const reference = new Map(
    paces.map((pace) => {
      const ones = results.filter((r) => r.pace === pace && r.setup.subscribers === 1);
      const events = ones.reduce((sum, r) => sum + r.published.length, 0);
      const ref: Reference = {
        p95: percentile(
          ones.flatMap((r) => r.latencies),
          95,
        ),
        cpuUsPerIncident: ones.reduce((sum, r) => sum + r.cpuUs, 0) / events,
      };
      return [pace, ref];
    }),
  );
  console.log(
    "\nDelivery latency, ms from feed.publish to the client's data event, over all (subscriber, incident) pairs;" +
      "\nall-p95: p95 over incidents of the last subscriber's latency; +p95, ×p95(1): against K=1 at the same" +
      '\npace, both K=1 runs pooled',
  );
  latencyHeader();
  for (const r of results) latencyRow(r, reference.get(r.pace)!);
  console.log(
    '\nServer cost: CPU less idle per incident (inc); marg: extra per added subscriber over K=1;' +
      "\nreads: Subscribe's history reads (latestSeq + after) and the time in them; client CPU: the child's",
  );
  costHeader();
  for (const r of results) costRow(r, reference.get(r.pace)!);
}

async function profiledIf<T>(on: boolean, label: string, fn: () => Promise<T>): Promise<T> {
  if (!on) return fn();
  const { value, profile } = await profiled(fn);
  console.log(`profile of ${label}:`);
  printProfile(profile, 25);
  return value;
}

async function slowSubscriber(bench: Bench): Promise<void> {
  const setup: Setup = {
    label: `K=100, ${SHARED_CHANNEL}/channel`,
    subscribers: 100,
    perChannel: SHARED_CHANNEL,
  };
  const pace: Pace = { kind: 'steady', rate: SLOW_RATE, events: SLOW_EVENTS };
  const slow = 0;
  const channelMates = range(1, SHARED_CHANNEL);
  const elsewhere = range(SHARED_CHANNEL, setup.subscribers);
  const others = [...channelMates, ...elsewhere];
  console.log(
    `\nSlow subscriber: ${setup.label}, ${paceLabel(pace)} × ${SLOW_EVENTS}, three runs: everybody ` +
      `reading; subscriber ${slow} paused (its stream not read); everybody again after its catch-up`,
  );
  await bench.open(setup, [slow]);
  const before = await bench.phase(setup, pace);
  await bench.pause(slow);
  const paused = await bench.phase(setup, pace, [slow]);
  const resumedAt = Number(process.hrtime.bigint() - paused.base) / 1e6;
  await bench.resume(slow);
  await bench.awaitDelivery(pace.events);
  const caughtUp = (await bench.report()).subs[slow]!;
  verify('the paused subscriber, once resumed', paused.published, [caughtUp], []);
  const after = await bench.phase(setup, pace);
  await bench.close();

  const runs = [before, paused, after];
  const line = (label: string, value: (r: PhaseResult) => string) =>
    console.log(`${label.padEnd(44)}${runs.map((r) => value(r).padStart(16)).join('')}`);
  line('', (r) =>
    r === paused ? 'one paused' : r === before ? 'everybody reads' : 'everybody again',
  );
  line("p95 ms, the 9 on the paused one's channel", (r) =>
    f(percentile(latenciesOf(r, channelMates), 95)),
  );
  line('p95 ms, the 90 on other channels', (r) => f(percentile(latenciesOf(r, elsewhere), 95)));
  line('p99 ms, the 99 others', (r) => f(percentile(latenciesOf(r, others), 99)));
  line(
    'server RSS MB before/peak/after',
    (r) => `${mib(r.rss.before)}/${mib(r.rss.peak)}/${mib(r.rss.after)}`,
  );
  line(`history rows read for subscriber ${slow}`, (r) => `${r.reads.taggedRows}`);
  const caughtUpMs = caughtUp.at[caughtUp.at.length - 1]! - resumedAt;
  console.log(
    `subscriber ${slow}, resumed, then received all ${caughtUp.ids.length}/${paused.published.length} ` +
      `incidents in order, none twice, the last ${f(caughtUpMs, 0)} ms after it resumed`,
  );
}

function latenciesOf(r: PhaseResult, who: number[]): number[] {
  return who.flatMap((i) => r.report.subs[i]!.at.map((at, k) => at - r.published[k]!.at));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

if (process.argv.includes(CHILD_FLAG)) {
  vmsSide();
} else {
  void main();
}
