/**
 * Shared helpers for the Kafka benchmarks (kafka-throughput, kafka-latency, kafka-capacity):
 *
 *  - a broker: KAFKA_BROKERS when it answers, else one of our own started with
 *    `KAFKA_PORT=$BENCH_KAFKA_PORT scripts/kafka.sh start` (default port 29092) and stopped at the end;
 *  - the four services as OS processes (`node dist/apps/<app>/main.js`), built first when dist/ is
 *    older than the sources, each on its own health port, with their CPU read from /proc
 *    (ingest includes its ffmpeg children);
 *  - an observer: a plain kafkajs consumer (auto-commit, every partition at once) that stamps
 *    every message's arrival with this process's monotonic clock — the Bus's own consumer
 *    commits each message before the next, which a measuring instrument must not add;
 *  - consumer lag of the stage groups (committed offsets against the topic ends);
 *  - live sources: a TCP server in this process that, per connection, runs
 *    `ffmpeg -re -i FILE -c copy -f mpegts pipe:1` and writes its output to the socket, and notes
 *    when the first byte went out: that is when stream second 0 was "captured".
 *
 * Times are `performance.now()` milliseconds of this process throughout, so arrival and capture
 * times share one clock.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import {
  type AddressInfo,
  type Server,
  type Socket,
  createServer,
  Socket as NetSocket,
} from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Admin, type Consumer, Kafka, logLevel } from 'kafkajs';
import { KafkaBus, kafkaGroupId } from '@app/bus';
import {
  type DetectionSet,
  type SecurityEvent,
  type StreamCommand,
  type StreamStatus,
  type Topic,
  Topics,
  codecFor,
} from '@app/contracts';
import { Groups } from '@app/pipeline';
import { fixture, modelsDir } from '@app/testing';
import { CLK_TCK, benchTmpDir, cachedMedia, ffmpegBinary, runFfmpeg } from './bench.support';
import { stopGracefully } from '@app/testing/child-process';

export const REPO_ROOT = join(__dirname, '..');
export const SERVICE_APPS = ['ingest', 'spectrogram', 'inference', 'fusion'] as const;
export type ServiceApp = (typeof SERVICE_APPS)[number];

/** apps/ingest/src/ingest.worker.ts INGEST_GROUP (not imported: that pulls the Nest app in). */
const INGEST_GROUP = 'vigil-ingest';

/** Every Kafka consumer group of the deployment (Bus group `<stage>` on topic T → `<stage>.T`). */
export const STAGE_GROUPS: { label: string; group: string; topic: string }[] = [
  { label: 'ingest <- commands', group: INGEST_GROUP, topic: Topics.streamCommands.name },
  { label: 'spectrogram <- audio', group: Groups.spectrogram, topic: Topics.audio.name },
  { label: 'inference <- features', group: Groups.inference, topic: Topics.features.name },
  { label: 'inference <- video', group: Groups.inference, topic: Topics.video.name },
  { label: 'fusion <- detections', group: Groups.fusion, topic: Topics.detections.name },
].map((g) => ({ label: g.label, group: kafkaGroupId(g.group, g.topic), topic: g.topic }));

export const now = () => performance.now();
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const loadLine = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;

export async function until(
  what: string,
  predicate: () => boolean,
  timeoutMs: number,
  stepMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Least-squares slope of y over x. */
export function slope(points: { x: number; y: number }[]): number {
  if (points.length < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : 'n/a');

export function dist(values: number[]): string {
  if (values.length === 0) return 'no samples';
  return (
    `p50 ${ms(percentile(values, 50))}, p95 ${ms(percentile(values, 95))}, ` +
    `p99 ${ms(percentile(values, 99))}, max ${ms(Math.max(...values))} (n=${values.length})`
  );
}

// ---------------------------------------------------------------------------------------------
// Build

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.(ts|json|proto)$/.test(entry.name) && !entry.name.endsWith('.spec.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** Rebuilds dist/ (npm run build) when a service bundle is missing or older than the sources. */
export function ensureBuilt(): void {
  const sources = Math.max(
    ...['apps', 'libs', 'protos'].map((d) => newestSource(join(REPO_ROOT, d))),
  );
  const stale = SERVICE_APPS.filter((app) => {
    const bundle = join(REPO_ROOT, 'dist', 'apps', app, 'main.js');
    return !existsSync(bundle) || statSync(bundle).mtimeMs < sources;
  });
  if (stale.length === 0) return;
  console.log(`building: dist/apps/{${stale.join(',')}}/main.js missing or older than the sources`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

// ---------------------------------------------------------------------------------------------
// Broker

export interface BenchBroker {
  brokers: string[];
  /** The broker JVM, when its pid file is ours to read (scripts/kafka.sh). */
  pid?: number;
  /** Its log dirs, when it is a scripts/kafka.sh broker on this machine. */
  dataDir?: string;
  stop(): Promise<void>;
}

/** Bytes of a topic's segment files (all partitions) in a broker's log dirs: what it stores. */
export function topicBytes(dataDir: string, topic: string): number {
  let bytes = 0;
  for (const dir of readdirSync(dataDir)) {
    if (!dir.startsWith(`${topic}-`) || !/^\d+$/.test(dir.slice(topic.length + 1))) continue;
    for (const file of readdirSync(join(dataDir, dir))) {
      if (file.endsWith('.log')) bytes += statSync(join(dataDir, dir, file)).size;
    }
  }
  return bytes;
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new NetSocket();
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(port, host);
  });
}

function brokerPid(port: string): number | undefined {
  const file = join(
    process.env.KAFKA_CACHE_DIR ?? join(REPO_ROOT, '.cache', 'kafka'),
    `broker-${port}.pid`,
  );
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * KAFKA_BROKERS when set (it must answer); else a broker of our own on BENCH_KAFKA_PORT (29092),
 * started with scripts/kafka.sh and stopped by stop(). Port 9092 is never touched.
 */
export async function benchBroker(): Promise<BenchBroker> {
  const configured = process.env.KAFKA_BROKERS;
  if (configured) {
    const first = configured.split(',')[0]!.trim();
    const [host, port] = first.split(':');
    if (!(await answers(host!, Number(port))))
      throw new Error(`KAFKA_BROKERS=${configured} does not answer`);
    return {
      brokers: configured.split(',').map((b) => b.trim()),
      pid: brokerPid(port!),
      stop: async () => undefined,
    };
  }
  const port = process.env.BENCH_KAFKA_PORT ?? '29092';
  if (port === '9092') throw new Error('BENCH_KAFKA_PORT=9092 is the shared default; pick another');
  const env = { ...process.env, KAFKA_PORT: port };
  const dataDir = join(
    process.env.KAFKA_CACHE_DIR ?? join(REPO_ROOT, '.cache', 'kafka'),
    `data-${port}`,
  );
  if (await answers('127.0.0.1', Number(port))) {
    console.log(`using the broker already answering on 127.0.0.1:${port}`);
    return {
      brokers: [`127.0.0.1:${port}`],
      pid: brokerPid(port),
      dataDir,
      stop: async () => undefined,
    };
  }
  console.log(`starting a Kafka broker on 127.0.0.1:${port} (scripts/kafka.sh)`);
  const out = execFileSync(join(REPO_ROOT, 'scripts', 'kafka.sh'), ['start'], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const match = /KAFKA_BROKERS=(\S+)/.exec(out);
  if (!match) throw new Error(`scripts/kafka.sh start printed no KAFKA_BROKERS:\n${out}`);
  return {
    brokers: match[1]!.split(','),
    pid: brokerPid(port),
    dataDir,
    stop: async () => {
      execFileSync(join(REPO_ROOT, 'scripts', 'kafka.sh'), ['stop'], {
        cwd: REPO_ROOT,
        env,
        stdio: 'inherit',
      });
    },
  };
}

export function kafkaAdmin(brokers: string[], clientId: string): Admin {
  return new Kafka({ brokers, clientId, logLevel: logLevel.NOTHING }).admin();
}

/**
 * Before services start: every stage group must be empty (someone else's services on this broker
 * would share the work), and is moved to the topic ends so nothing an earlier run left behind is
 * replayed into this one's measurements.
 */
export async function resetStageGroups(admin: Admin): Promise<void> {
  const described = await admin.describeGroups(STAGE_GROUPS.map((g) => g.group));
  const busy = described.groups.filter((g) => g.members.length > 0);
  if (busy.length > 0) {
    throw new Error(
      `consumer groups ${busy.map((g) => g.groupId).join(', ')} have live members on this broker: ` +
        'another deployment is running against it; use a broker of your own (BENCH_KAFKA_PORT)',
    );
  }
  const existing = new Set(await admin.listTopics());
  for (const { group, topic } of STAGE_GROUPS) {
    if (!existing.has(topic)) continue; // first run on this broker: services create it
    // Explicit offsets: admin.resetOffsets({ earliest: false }) commits -1, which a consumer that
    // starts from the earliest offset (every stage) reads as "no position" and replays it all.
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: ends.map((o) => ({ partition: o.partition, offset: o.high })),
    });
  }
}

/** Waits until every stage group is Stable with members, i.e. partitions are assigned. */
export async function waitGroupsStable(admin: Admin, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { groups } = await admin.describeGroups(STAGE_GROUPS.map((g) => g.group));
    const pending = groups.filter((g) => g.state !== 'Stable' || g.members.length === 0);
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `groups not stable: ${pending.map((g) => `${g.groupId}=${g.state}`).join(', ')}`,
      );
    }
    await sleep(200);
  }
}

/** Lag per stage group: sum over partitions of (end offset - committed offset). */
export async function stageLags(admin: Admin): Promise<Record<string, number>> {
  const lags: Record<string, number> = {};
  const ends = new Map<string, Map<number, number>>();
  for (const topic of new Set(STAGE_GROUPS.map((g) => g.topic))) {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends.set(topic, new Map(offsets.map((o) => [o.partition, Number(o.high)])));
  }
  await Promise.all(
    STAGE_GROUPS.map(async ({ label, group, topic }) => {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      let lag = 0;
      for (const p of committed?.partitions ?? []) {
        const end = ends.get(topic)?.get(p.partition) ?? 0;
        const at = Number(p.offset);
        lag += at < 0 ? 0 : Math.max(0, end - at); // -1: nothing committed (reset to the end)
      }
      lags[label] = lag;
    }),
  );
  return lags;
}

// ---------------------------------------------------------------------------------------------
// CPU of processes from /proc

interface ProcEntry {
  ppid: number;
  /** utime + stime + cutime + cstime, ticks. */
  ticks: number;
}

function statFields(path: string): string[] | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function procTable(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(`/proc/${name}/stat`);
    if (!f) continue;
    // After "pid (comm) ": index 0 = field 3 (state), 1 = ppid, 11..14 = utime stime cutime cstime.
    table.set(Number(name), {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    });
  }
  return table;
}

/**
 * CPU seconds of a process and its descendants, living and reaped, leaving out the subtrees of
 * `exclude` (processes accounted for on their own, e.g. services this bench spawned).
 */
export function treeCpuSec(
  pid: number,
  table = procTable(),
  exclude: ReadonlySet<number> = new Set(),
): number {
  let ticks = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const entry = table.get(p);
    if (!entry) continue;
    ticks += entry.ticks;
    for (const [child, e] of table) if (e.ppid === p && !exclude.has(child)) stack.push(child);
  }
  return ticks / CLK_TCK;
}

/** CPU seconds of a process itself, every thread, without its children. */
export function selfCpuSec(pid: number): number {
  const f = statFields(`/proc/${pid}/stat`);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : NaN;
}

/** CPU seconds of a process's main thread alone (for Node: the event loop). */
export function mainThreadCpuSec(pid: number): number {
  const f = statFields(`/proc/${pid}/task/${pid}/stat`);
  return f ? (Number(f[11]) + Number(f[12])) / CLK_TCK : NaN;
}

/** CPU seconds per thread of one process (tid → { name, seconds }). */
export function threadCpuSec(pid: number): Map<number, { name: string; sec: number }> {
  const threads = new Map<number, { name: string; sec: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const name =
      Number(tid) === pid ? 'main' : text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    threads.set(Number(tid), { name, sec: (Number(f[11]) + Number(f[12])) / CLK_TCK });
  }
  return threads;
}

export function machineBusySec(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK;
}

export interface CpuSample {
  at: number;
  /** label -> tree CPU s, main-thread CPU s, CPU s per thread of the process itself */
  procs: Record<
    string,
    { tree: number; main: number; threads: Map<number, { name: string; sec: number }> }
  >;
  machine: number;
}

export interface CpuRow {
  label: string;
  sec: number;
  /** Cores used by the process and its children (1 = one core busy all the time). */
  cores: number;
  /** Cores used by its main thread (a Node event loop). */
  mainCores: number;
  /** Its busiest thread ('main' or the thread's name): near 1 core, that thread is the limit. */
  busiest: { name: string; cores: number };
}

/** Named pids whose CPU is sampled together. */
export class CpuWatch {
  constructor(private readonly pids: () => Record<string, number | undefined>) {}

  sample(): CpuSample {
    const table = procTable();
    const procs: CpuSample['procs'] = {};
    const pids = Object.entries(this.pids()).filter(
      (e): e is [string, number] => e[1] !== undefined,
    );
    const all = new Set(pids.map(([, pid]) => pid));
    for (const [label, pid] of pids) {
      procs[label] = {
        tree: treeCpuSec(pid, table, all),
        main: mainThreadCpuSec(pid),
        threads: threadCpuSec(pid),
      };
    }
    return { at: now(), procs, machine: machineBusySec() };
  }

  /** Per label: cores used between two samples; then everything else and the whole machine. */
  static between(a: CpuSample, b: CpuSample): CpuRow[] {
    const wall = (b.at - a.at) / 1000;
    const rows: CpuRow[] = Object.keys(b.procs)
      .filter((label) => a.procs[label])
      .map((label) => {
        const from = a.procs[label]!;
        const to = b.procs[label]!;
        const sec = to.tree - from.tree;
        let busiest = { name: '', cores: 0 };
        for (const [tid, t] of to.threads) {
          const cores = (t.sec - (from.threads.get(tid)?.sec ?? 0)) / wall;
          if (cores > busiest.cores) busiest = { name: t.name, cores };
        }
        return { label, sec, cores: sec / wall, mainCores: (to.main - from.main) / wall, busiest };
      });
    const machine = b.machine - a.machine;
    const ours = rows.reduce((acc, r) => acc + r.sec, 0);
    const none = { name: '', cores: NaN };
    rows.push({
      label: 'everything else',
      sec: machine - ours,
      cores: (machine - ours) / wall,
      mainCores: NaN,
      busiest: none,
    });
    rows.push({
      label: 'machine (all)',
      sec: machine,
      cores: machine / wall,
      mainCores: NaN,
      busiest: none,
    });
    return rows;
  }
}

export function printCpu(a: CpuSample, b: CpuSample, indent = '  '): void {
  for (const r of CpuWatch.between(a, b)) {
    const threads = Number.isFinite(r.mainCores)
      ? `  main thread ${(100 * r.mainCores).toFixed(0).padStart(3)} %, busiest thread ` +
        `${(100 * r.busiest.cores).toFixed(0).padStart(3)} % (${r.busiest.name})`
      : '';
    console.log(
      `${indent}${r.label.padEnd(24)}${r.sec.toFixed(1).padStart(7)} CPU s ` +
        `${(100 * r.cores).toFixed(0).padStart(5)} % of a core${threads}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The four services

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export class ServiceProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  port = 0;
  readonly logPath: string;

  constructor(
    readonly app: ServiceApp,
    readonly instanceId: string,
    private readonly env: Record<string, string>,
  ) {
    const logs = join(REPO_ROOT, '.cache', 'bench-logs');
    mkdirSync(logs, { recursive: true });
    this.logPath = join(logs, `${instanceId}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const log = createWriteStream(this.logPath, { flags: 'a' });
    this.child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'apps', this.app, 'main.js')], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        VIGIL_MODELS_DIR: modelsDir(),
        VIGIL_HEALTH_PORT: String(this.port),
        VIGIL_INSTANCE_ID: this.instanceId,
        VIGIL_LOG_LEVEL: process.env.VIGIL_LOG_LEVEL ?? 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exited = new Promise((done) => this.child!.once('exit', () => done()));
    return this;
  }

  async ready(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) {
        throw new Error(
          `${this.instanceId} exited with ${this.child.exitCode}; see ${this.logPath}`,
        );
      }
      try {
        const response = await fetch(`http://127.0.0.1:${this.port}/health/ready`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`${this.instanceId} not ready after ${timeoutMs} ms; see ${this.logPath}`);
  }

  exitCode(): number | null | undefined {
    return this.child?.exitCode;
  }

  async stop(): Promise<void> {
    await stopGracefully(this.child, this.exited);
  }
}

/** One replica of each service, started, ready and with their groups assigned. */
export class Deployment {
  readonly services: ServiceProcess[];

  constructor(
    readonly brokers: string[],
    readonly run: string,
    private readonly env: Record<string, string> = {},
  ) {
    this.services = SERVICE_APPS.map(
      (app) =>
        new ServiceProcess(app, `bench-${app}-${run}`, {
          KAFKA_BROKERS: brokers.join(','),
          ...env,
        }),
    );
  }

  /** Total startup ms; also says how long the groups took to be assigned after /health/ready. */
  async start(admin: Admin): Promise<number> {
    const t0 = now();
    await resetStageGroups(admin);
    for (const s of this.services) await s.start();
    await Promise.all(this.services.map((s) => s.ready()));
    const ready = now();
    await waitGroupsStable(admin);
    const stable = now();
    console.log(
      `services: all /health/ready ${((ready - t0) / 1000).toFixed(1)} s after spawn; every ` +
        `consumer group Stable with partitions assigned ${((stable - ready) / 1000).toFixed(1)} s later`,
    );
    return stable - t0;
  }

  /** Replaces one service by a new process with extra env (a what-if), ready and assigned. */
  async restart(app: ServiceApp, admin: Admin, env: Record<string, string>): Promise<void> {
    const index = this.services.findIndex((sv) => sv.app === app);
    const old = this.services[index]!;
    await old.stop();
    const next = new ServiceProcess(app, `${old.instanceId}-r`, {
      KAFKA_BROKERS: this.brokers.join(','),
      ...this.env,
      ...env,
    });
    this.services[index] = next;
    await next.start();
    await next.ready();
    await waitGroupsStable(admin);
  }

  pids(): Record<string, number | undefined> {
    return Object.fromEntries(this.services.map((s) => [s.app, s.pid]));
  }

  /** Throws when a service died: its numbers would be meaningless. */
  checkAlive(): void {
    for (const s of this.services) {
      const code = s.exitCode();
      if (code !== null && code !== undefined) {
        throw new Error(`${s.instanceId} exited with ${code}; see ${s.logPath}`);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.services.map((s) => s.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Commands and the observer

export class Commander {
  private readonly bus: KafkaBus;

  constructor(brokers: string[], run: string) {
    this.bus = new KafkaBus({ brokers, clientId: `bench-commander-${run}` });
  }

  async start(streamId: string, source: string, live = false): Promise<void> {
    const command: StreamCommand = { streamId, action: 'start', source, ...(live ? { live } : {}) };
    await this.bus.publish(Topics.streamCommands, streamId, command);
  }

  async stop(streamId: string): Promise<void> {
    await this.bus.publish(Topics.streamCommands, streamId, { streamId, action: 'stop' });
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}

export interface Arrival<T> {
  value: T;
  /** performance.now() when the message reached the observer. */
  at: number;
  partition: number;
  offset: number;
  headers: Record<string, string>;
}

/** Only the scalar fields of media/feature messages are kept: the observer needs times, not pixels. */
export interface MediaMark {
  streamId: string;
  modality: 'audio' | 'video' | 'features';
  seq: number;
  startSec: number;
  endSec: number;
  final: boolean;
}

/**
 * Watches the outputs of the deployment for the streams it is told about (by id prefix). With
 * `media`, also the media and feature topics (heavy: frames are ~0.5 MB each), for a per-hop
 * breakdown.
 */
export class Observer {
  readonly events: Arrival<SecurityEvent>[] = [];
  readonly statuses: Arrival<StreamStatus>[] = [];
  readonly detections: Arrival<DetectionSet>[] = [];
  readonly media: Arrival<MediaMark>[] = [];
  private consumer?: Consumer;
  private joined = false;

  constructor(
    private readonly brokers: string[],
    private readonly run: string,
    private readonly prefix: string,
    private readonly withMedia = false,
  ) {}

  async start(admin: Admin): Promise<void> {
    const kafka = new Kafka({
      brokers: this.brokers,
      clientId: `bench-observer-${this.run}`,
      logLevel: logLevel.NOTHING,
    });
    const groupId = `bench-observer-${this.run}`;
    this.consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 20,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.joined = true));
    await this.consumer.connect();
    const topics: Topic<unknown>[] = [Topics.events, Topics.streamStatus, Topics.detections];
    if (this.withMedia) topics.push(Topics.audio, Topics.video, Topics.features);
    // From the ends: the observer joins before any stream of this run starts (checked below).
    await this.consumer.subscribe({ topics: topics.map((t) => t.name), fromBeginning: false });
    const decode = {
      [Topics.events.name]: codecFor(Topics.events),
      [Topics.streamStatus.name]: codecFor(Topics.streamStatus),
      [Topics.detections.name]: codecFor(Topics.detections),
      [Topics.audio.name]: codecFor(Topics.audio),
      [Topics.video.name]: codecFor(Topics.video),
      [Topics.features.name]: codecFor(Topics.features),
    } as Record<string, { decode(b: Uint8Array): unknown }>;
    await this.consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: 36,
      eachMessage: async ({ topic, partition, message }) => {
        const at = now();
        const key = message.key?.toString('utf8') ?? '';
        if (!key.startsWith(this.prefix)) return;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {}))
          if (v !== undefined) headers[k] = String(v);
        const value = decode[topic]!.decode(message.value ?? Buffer.alloc(0));
        const base = { at, partition, offset: Number(message.offset), headers };
        if (topic === Topics.events.name)
          this.events.push({ ...base, value: value as SecurityEvent });
        else if (topic === Topics.streamStatus.name)
          this.statuses.push({ ...base, value: value as StreamStatus });
        else if (topic === Topics.detections.name)
          this.detections.push({ ...base, value: value as DetectionSet });
        else this.media.push({ ...base, value: mediaMark(topic, value) });
      },
    });
    await until('the observer to join its group', () => this.joined, 60_000);
    // A fresh group starts at the ends, resolved on its first fetch; pin that down explicitly
    // (seek to the ends known now), so nothing published after start() returns can be missed.
    for (const t of topics) {
      for (const o of await admin.fetchTopicOffsets(t.name)) {
        this.consumer.seek({ topic: t.name, partition: o.partition, offset: o.high });
      }
    }
    await sleep(500);
  }

  ended(streamId: string): Arrival<StreamStatus> | undefined {
    return this.statuses.find(
      (s) =>
        s.value.streamId === streamId && (s.value.state === 'ended' || s.value.state === 'failed'),
    );
  }

  detectionsOf(streamId: string): Arrival<DetectionSet>[] {
    return this.detections.filter((d) => d.value.streamId === streamId);
  }

  eventsOf(streamId: string): Arrival<SecurityEvent>[] {
    return this.events.filter((e) => e.value.streamId === streamId);
  }

  finalDetections(streamId: string): Arrival<DetectionSet>[] {
    return this.detections.filter((d) => d.value.streamId === streamId && d.value.final);
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

function mediaMark(topic: string, value: unknown): MediaMark {
  if (topic === Topics.video.name) {
    const v = value as { streamId: string; seq: number; ptsSec: number; final?: boolean };
    return {
      streamId: v.streamId,
      modality: 'video',
      seq: v.seq,
      startSec: v.ptsSec,
      endSec: v.ptsSec,
      final: !!v.final,
    };
  }
  if (topic === Topics.audio.name) {
    const a = value as {
      streamId: string;
      seq: number;
      startSec: number;
      sampleRate: number;
      samples: Float32Array;
      final?: boolean;
    };
    return {
      streamId: a.streamId,
      modality: 'audio',
      seq: a.seq,
      startSec: a.startSec,
      endSec: a.startSec + a.samples.length / (a.sampleRate || 1),
      final: !!a.final,
    };
  }
  const f = value as {
    streamId: string;
    seq: number;
    startSec: number;
    endSec: number;
    final?: boolean;
  };
  return {
    streamId: f.streamId,
    modality: 'features',
    seq: f.seq,
    startSec: f.startSec,
    endSec: f.endSec,
    final: !!f.final,
  };
}

// ---------------------------------------------------------------------------------------------
// Live sources

export interface LiveConnection {
  /** performance.now() of the first byte written to ingest: stream second 0 left the "camera". */
  firstByteAt?: number;
  endedAt?: number;
  bytes: number;
}

/**
 * A camera on loopback: a TCP server that, for each connection, plays FILE at its native rate
 * (`ffmpeg -re`, stream copy) as MPEG-TS. -flush_packets 1 and -pes_payload_size 0 write every
 * packet as soon as it is read, as an RTP camera would, instead of batching PES payloads.
 * Connections after the first `maxConnections` are closed at once (a camera that went away).
 * `direct`: ffmpeg writes into the connection's socket itself, so the process that hosts the
 * camera (a capacity bench measuring Vigil in this very process) only accepts the connection
 * and moves no bytes; its connections then count no bytes and know no first byte.
 */
export class LiveSource {
  readonly connections: LiveConnection[] = [];
  private server?: Server;
  private readonly children = new Set<ChildProcess>();
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    readonly file: string,
    private readonly options: { loop?: boolean; maxConnections?: number; direct?: boolean } = {},
  ) {}

  get url(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  /** The ffmpeg -re processes serving connections now. */
  pids(): number[] {
    return [...this.children].map((c) => c.pid!).filter(Boolean);
  }

  async listen(): Promise<this> {
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (this.connections.length >= (this.options.maxConnections ?? Infinity)) {
      socket.destroy();
      return;
    }
    const connection: LiveConnection = { bytes: 0 };
    this.connections.push(connection);
    const child = spawn(
      ffmpegBinary(),
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-re',
        ...(this.options.loop ? ['-stream_loop', '-1'] : []),
        '-i',
        this.file,
        '-map',
        '0',
        '-c',
        'copy',
        '-f',
        'mpegts',
        '-flush_packets',
        '1',
        '-pes_payload_size',
        '0',
        'pipe:1',
      ],
      { stdio: ['ignore', this.options.direct ? socket : 'pipe', 'ignore'] },
    );
    this.children.add(child);
    child.stdout?.on('data', (chunk: Buffer) => {
      connection.firstByteAt ??= now();
      connection.bytes += chunk.length;
      if (!socket.write(chunk)) {
        child.stdout!.pause();
        socket.once('drain', () => child.stdout!.resume());
      }
    });
    child.once('exit', () => {
      this.children.delete(child);
      connection.endedAt = now();
      socket.end();
    });
    socket.once('close', () => child.kill('SIGKILL'));
  }

  async close(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

/**
 * An ffmpeg wrapper (for FFMPEG_PATH) that runs ingest's decode of a live network input with
 * low-latency options and leaves every other run alone: a what-if for the services, no code
 * changed. Before -i: -probesize 32768 -analyzeduration 500000 (ffmpeg otherwise reads 5 s of a
 * live MPEG-TS before it starts) and -threads 1 (no frame-threaded decoding: 2 frames of delay);
 * -threads 1 on the video output (no frame threading in the rawvideo output: a frame, 200 ms at
 * 5 fps); fps round=up (a slot takes the frame at its own time instead of waiting 3 source frames
 * for the nearest).
 */
export function lowLatencyFfmpeg(): string {
  const path = join(benchTmpDir(), 'ffmpeg-lowlatency.sh');
  const script = `#!/usr/bin/env bash
# Written by bench/kafka.support.ts (lowLatencyFfmpeg): a what-if, see there.
args=("$@"); out=(); live=0
for a in "\${args[@]}"; do case "$a" in tcp://*|udp://*|rtsp://*|rtmp://*|rtsps://*|rtmps://*) live=1;; esac; done
if [[ $live == 1 ]]; then
  for ((k = 0; k < \${#args[@]}; k++)); do
    a=\${args[k]}
    [[ $a == -i ]] && out+=(-probesize 32768 -analyzeduration 500000 -threads 1)
    [[ $a == -c:v ]] && out+=(-threads 1)
    [[ $a == fps=*:eof_action=pass* ]] && a=\${a/:eof_action=pass/:round=up:eof_action=pass}
    out+=("$a")
  done
else
  out=("\${args[@]}")
fi
exec ${JSON.stringify(ffmpegBinary())} "\${out[@]}"
`;
  writeFileSync(path, script, { mode: 0o755 });
  return path;
}

// ---------------------------------------------------------------------------------------------
// Media

export const CLIPS = {
  comp01: 'clips/comp01_person_glassbreak.mp4',
  comp02: 'clips/comp02_dog_bark.mp4',
  comp04: 'clips/comp04_empty_night_ambience.mp4',
  comp05: 'clips/comp05_emptyroom_smoke_alarm.mp4',
} as const;

/**
 * A camera feed with incidents: (comp01 person + glass break, comp02 dog, comp04 quiet night,
 * comp05 smoke alarm in an empty room) × cycles, 40 s a cycle, re-encoded once into one
 * continuous H.264 (1 s GOP) + AAC file so its timestamps run without seams (a looped or
 * concatenated copy would drift against the wall clock at every seam). comp05 follows the empty
 * comp04, so its alarm is the "nobody in view" kind that waits for the camera.
 */
export function liveFeed(cycles: number): string {
  const order = ['comp01', 'comp02', 'comp04', 'comp05'] as const;
  return cachedMedia(`live_feed_${cycles}x40s.v2.mp4`, (out) => {
    const list = join(benchTmpDir(), `live_feed_${process.pid}.txt`);
    const lines: string[] = [];
    for (let c = 0; c < cycles; c++)
      for (const name of order) lines.push(`file '${fixture(CLIPS[name])}'`);
    writeFileSync(list, `${lines.join('\n')}\n`);
    try {
      runFfmpeg([
        '-f',
        'concat',
        '-safe',
        '0',
        '-i',
        list,
        '-vf',
        'fps=25,format=yuv420p',
        '-af',
        'aresample=async=1:first_pts=0',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '23',
        '-g',
        '25',
        '-c:a',
        'aac',
        '-b:a',
        '128k',
        '-ar',
        '48000',
        '-movflags',
        '+faststart',
        out,
      ]);
    } finally {
      rmSync(list, { force: true });
    }
  });
}
