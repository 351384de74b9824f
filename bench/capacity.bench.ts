/**
 * Capacity of one `vigil serve` process on this machine: how many live 5 fps audio + video
 * cameras it serves with a p95 capture-to-alert latency under the bound and few frames dropped.
 *
 *   npm run bench:capacity [-- --gating on,off --precision fp32,int8 --max 24 --step 4
 *                             --companion on|off]
 *   (--companion: YAMNet and CED-Tiny beside mn04, as where installed; on by default, and then
 *   they must be made: npm run models:companions)
 *   (each step measured from the start of its new cameras for BENCH_SETTLE_SEC=n (10) +
 *   BENCH_PHASE_SEC=n (30); BENCH_P95_MS (1000)
 *   and BENCH_MAX_DROP (0.05) are where a step stops holding; BENCH_WAIT_SEC=n waits for a
 *   quiet machine)
 *
 * Cameras: TCP servers in this process, each playing the 160 s incident feed (comp01, 02, 04,
 * 05, looped) at native rate as MPEG-TS (`ffmpeg -re -c copy`); Vigil opens them with
 * StartStream (live: true) over real gRPC. The server is `vigil serve` from the built bundle
 * (dist/apps/vigil/main.js, rebuilt when older than the sources) in a process of its own, as
 * users run it (real models, ffmpeg, SQLite, evidence), one configuration after another. It
 * used to run inside this process under ts-node, whose TypeScript compiler more than doubled
 * the heap every major GC walks (49 MB against 20 MB for the bundle): the bench measured a GC
 * cost no deployment pays, and the cameras' sockets shared the server's event loop.
 *
 * Per step, from the server's own /metrics (deltas over the step):
 *  - p95 of vigil_capture_to_incident_seconds (from the capture of an alert's trigger to fusion
 *    deciding it), interpolated within its buckets like Prometheus' histogram_quantile;
 *  - frames dropped (vigil_frames_dropped_total) over frames that reached the detector, after
 *    the settle (a camera's start comes out as a burst);
 *  - time each stage spent handling its messages (vigil_bus_handle_seconds_sum per group and
 *    topic) per second of the phase: the split of the work between stages;
 *  - the server's CPU from /proc per second: its main thread, all its threads (main, inference
 *    workers, onnxruntime, V8 and libuv helpers) and its ffmpeg decoders (its children); and the
 *    whole machine's, which adds the cameras' ffmpeg (on the same cores here, unlike a site's).
 * A step holds while p95 <= BENCH_P95_MS and drops <= BENCH_MAX_DROP. Nothing is asserted; the
 * last line names the configuration that held the most streams:
 *   capacity streams=<N> p95_ms=<p95> precision=<p> gating=<on|off> mode=embedded
 * The Kafka deployment has its own ramp: bench/kafka-capacity.bench.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  type ApiClients,
  apiClients,
  bearer,
  fixturesDir,
  companionModelsDir,
  modelsDir,
  modelsPathWithInt8,
  unary,
} from '@app/testing';
import { checkQuietMachine, machineLine, runBench } from './bench.support';
import {
  LiveSource,
  REPO_ROOT,
  ensureBuilt,
  freePort,
  liveFeed,
  machineBusySec,
  mainThreadCpuSec,
  selfCpuSec,
  sleep,
  treeCpuSec,
} from './kafka.support';
import { stopGracefully } from '@app/testing/child-process';

const TOKEN = 'capacity-bench-operator';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const GATING = option('gating', 'on,off').split(',') as ('on' | 'off')[];
const PRECISIONS = option('precision', 'fp32').split(',');
const COMPANION = option('companion', 'on') === 'on';
const MAX_STREAMS = Number(option('max', '24'));
const STEP = Number(option('step', '4'));
const PHASE_SEC = Number(process.env.BENCH_PHASE_SEC ?? 30);
const SETTLE_SEC = Number(process.env.BENCH_SETTLE_SEC ?? 10);
const P95_BOUND_MS = Number(process.env.BENCH_P95_MS ?? 1000);
const MAX_DROP = Number(process.env.BENCH_MAX_DROP ?? 0.05);

interface Scrape {
  /** Cumulative count per upper bound, all severities. */
  buckets: Map<number, number>;
  dropped: number;
  /** Of those, dropped because a newer frame of the stream already waited (the rest: stale). */
  superseded: number;
  detectorFrames: number;
  /** Of those, frames motion gating kept from the detector. */
  gatedFrames: number;
  handleSec: Map<string, number>;
}

/** The few families this bench reads, from the Prometheus text format. */
function parse(text: string): Scrape {
  const scrape: Scrape = {
    buckets: new Map(),
    dropped: 0,
    superseded: 0,
    detectorFrames: 0,
    gatedFrames: 0,
    handleSec: new Map(),
  };
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const [, name, labelText = '', raw] = match;
    const value = Number(raw);
    const labels = Object.fromEntries(
      [...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    if (name === 'vigil_capture_to_incident_seconds_bucket') {
      const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
      scrape.buckets.set(le, (scrape.buckets.get(le) ?? 0) + value);
    } else if (name === 'vigil_frames_dropped_total') {
      scrape.dropped += value;
      if (labels.reason === 'superseded') scrape.superseded += value;
    } else if (name === 'vigil_detector_frames_total') {
      scrape.detectorFrames += value;
      if (labels.outcome === 'skipped') scrape.gatedFrames += value;
    } else if (name === 'vigil_bus_handle_seconds_sum') {
      const stage = `${labels.group} ← ${labels.topic}`;
      scrape.handleSec.set(stage, (scrape.handleSec.get(stage) ?? 0) + value);
    }
  }
  return scrape;
}

/** The p-quantile of a histogram's increase between two scrapes, as histogram_quantile does. */
function quantile(p: number, before: Scrape, after: Scrape): { value: number; count: number } {
  const bounds = [...after.buckets.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return { value: NaN, count: 0 };
  const rank = p * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const upper = bounds[i]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      if (upper === Infinity) return { value: lower, count: total };
      const below = i === 0 ? 0 : counts[i - 1]!;
      return {
        value: lower + ((upper - lower) * (rank - below)) / (counts[i]! - below),
        count: total,
      };
    }
  }
  return { value: NaN, count: total };
}

/** `vigil serve` from the bundle, in a process of its own; its output goes to a log file. */
class ServeProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  grpcAddress = '';
  metricsUrl = '';
  readonly logPath: string;

  constructor(
    private readonly configFile: string,
    private readonly env: Record<string, string>,
    name: string,
  ) {
    const logs = join(REPO_ROOT, '.cache', 'bench-logs');
    mkdirSync(logs, { recursive: true });
    this.logPath = join(logs, `${name}.log`);
  }

  get pid(): number {
    return this.child?.pid ?? NaN;
  }

  async start(grpcPort: number): Promise<this> {
    this.grpcAddress = `127.0.0.1:${grpcPort}`;
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    this.metricsUrl = `http://${metricsAddress}/metrics`;
    const log = createWriteStream(this.logPath);
    this.child = spawn(
      process.execPath,
      [
        // e.g. BENCH_SERVE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server.
        ...(process.env.BENCH_SERVE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        join(REPO_ROOT, 'dist', 'apps', 'vigil', 'main.js'),
        'serve',
        '--config',
        this.configFile,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...this.env, VIGIL_METRICS_ADDRESS: metricsAddress },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exited = new Promise((done) => this.child!.once('exit', () => done()));
    return this;
  }

  /** Resolves once both /metrics and the gRPC API answer. */
  async ready(api: ApiClients, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child?.exitCode !== null) {
        throw new Error(`vigil serve exited with ${this.child?.exitCode}; see ${this.logPath}`);
      }
      try {
        if ((await fetch(this.metricsUrl)).ok) {
          await unary(api.streams, 'ListStreams', {}, bearer(TOKEN));
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(`vigil serve not ready after ${timeoutMs} ms; see ${this.logPath}`);
  }

  /** CPU seconds so far: the main thread, the whole process, and its ffmpeg decoders. */
  cpu(): { main: number; self: number; decoders: number } {
    const self = selfCpuSec(this.pid);
    return { main: mainThreadCpuSec(this.pid), self, decoders: treeCpuSec(this.pid) - self };
  }

  async stop(): Promise<void> {
    await stopGracefully(this.child, this.exited);
  }
}

interface Step {
  streams: number;
  p95Ms: number;
  alerts: number;
  dropRate: number;
  /** Cores the server used: its main thread, and all its threads. */
  main: number;
  cpu: number;
  decoders: number;
  /** Cores the whole machine was busy: the server, its decoders, and the cameras' ffmpeg. */
  machine: number;
  stages: string;
  holds: boolean;
}

async function ramp(gating: 'on' | 'off', precision: string, feed: string): Promise<Step[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-capacity-'));
  const configFile = join(dir, 'vigil.yaml');
  const grpcPort = await freePort();
  writeFileSync(
    configFile,
    [
      'grpc:',
      `  address: 127.0.0.1:${grpcPort}`,
      'auth:',
      '  tokens:',
      `    - { name: bench, role: operator, token: ${TOKEN} }`,
      'streams:',
      `  max: ${MAX_STREAMS}`,
      'history:',
      '  path: ./data/history.sqlite',
      'evidence:',
      '  dir: ./data/evidence',
    ].join('\n'),
  );
  const server = new ServeProcess(
    configFile,
    {
      // The INT8 variants and YAMNet are generated into folders of their own.
      VIGIL_MODELS_DIR: [
        precision === 'fp32' ? modelsDir() : modelsPathWithInt8(),
        ...(COMPANION ? [companionModelsDir()] : []),
      ].join(delimiter),
      VIGIL_MEDIA_ROOTS: fixturesDir(),
      VIGIL_MOTION_GATING: gating === 'on' ? 'true' : 'false',
      VIGIL_PRECISION: precision,
      VIGIL_LOG_LEVEL: process.env.VIGIL_LOG_LEVEL ?? 'warn',
    },
    `capacity-${precision}-gating-${gating}`,
  );
  let api: ApiClients | undefined;
  const cameras: LiveSource[] = [];
  const steps: Step[] = [];
  try {
    await server.start(grpcPort);
    api = apiClients(server.grpcAddress);
    await server.ready(api);
    const metricsUrl = server.metricsUrl;
    const scrape = async () => parse(await (await fetch(metricsUrl)).text());
    for (let n = STEP; n <= MAX_STREAMS; n += STEP) {
      // From before the new cameras start: every camera plays the same feed from its start, so
      // each step's alerts are mostly the new cameras' first intrusion, 4 s in, decided under
      // the load of all n streams.
      const before = await scrape();
      const cpu0 = server.cpu();
      const machine0 = machineBusySec();
      const started = Date.now();
      while (cameras.length < n) {
        const camera = await new LiveSource(feed, { loop: true, direct: true }).listen();
        cameras.push(camera);
        await unary(
          api.streams,
          'StartStream',
          { source: camera.url, streamId: `cam-${cameras.length}`, live: true },
          bearer(TOKEN),
        );
      }
      // Frames dropped while a camera starts (ffmpeg's probe comes out as a burst) are not the
      // steady state: drops are counted after the settle.
      await sleep(SETTLE_SEC * 1000);
      const settled = await scrape();
      await sleep(PHASE_SEC * 1000);
      const after = await scrape();
      const elapsedSec = (Date.now() - started) / 1000;
      const cpu1 = server.cpu();
      const machine1 = machineBusySec();
      const p95 = quantile(0.95, before, after);
      const dropped = after.dropped - settled.dropped;
      const superseded = after.superseded - settled.superseded;
      const ran = after.detectorFrames - settled.detectorFrames;
      const dropRate = dropped + ran > 0 ? dropped / (dropped + ran) : 0;
      const gated = ran > 0 ? (after.gatedFrames - settled.gatedFrames) / ran : 0;
      const stages = [...after.handleSec]
        .map(
          ([stage, sec]) =>
            [stage, (sec - (before.handleSec.get(stage) ?? 0)) / elapsedSec] as const,
        )
        .filter(([, share]) => share >= 0.01)
        .sort((a, b) => b[1] - a[1])
        .map(([stage, share]) => `${stage} ${share.toFixed(2)}`)
        .join(', ');
      const step: Step = {
        streams: n,
        p95Ms: p95.value * 1000,
        alerts: p95.count,
        dropRate,
        main: (cpu1.main - cpu0.main) / elapsedSec,
        cpu: (cpu1.self - cpu0.self) / elapsedSec,
        decoders: (cpu1.decoders - cpu0.decoders) / elapsedSec,
        machine: (machine1 - machine0) / elapsedSec,
        stages,
        holds: !(p95.value * 1000 > P95_BOUND_MS) && dropRate <= MAX_DROP,
      };
      steps.push(step);
      console.log(
        `  ${String(n).padStart(3)} streams  p95 ${Number.isNaN(step.p95Ms) ? '  n/a' : step.p95Ms.toFixed(0).padStart(5)} ms ` +
          `(${step.alerts} alerts)  dropped ${(dropRate * 100).toFixed(1)}% ` +
          `(${dropped > 0 ? ((superseded / dropped) * 100).toFixed(0) : 0}% superseded)  ` +
          `cpu ${step.cpu.toFixed(2)} (main thread ${step.main.toFixed(2)}) + decoders ${step.decoders.toFixed(2)} cores ` +
          `(machine ${step.machine.toFixed(2)})  ` +
          `${step.holds ? 'holds' : 'FAILS'}\n` +
          `       motion gating kept ${(gated * 100).toFixed(0)}% of frames from the detector; ` +
          `handler time per second: ${stages}`,
      );
      if (!step.holds) break;
    }
  } finally {
    api?.close();
    await server.stop();
    await Promise.all(cameras.map((c) => c.close()));
    rmSync(dir, { recursive: true, force: true });
  }
  return steps;
}

runBench(
  async () => {
    console.log(machineLine());
    ensureBuilt();
    await checkQuietMachine();
    const feed = liveFeed(1);
    const results: { gating: 'on' | 'off'; precision: string; held?: Step }[] = [];
    for (const precision of PRECISIONS) {
      for (const gating of GATING) {
        console.log(
          `\nembedded, precision ${precision}, motion gating ${gating}, YAMNet ${COMPANION ? 'on' : 'off'}:`,
        );
        const steps = await ramp(gating, precision, feed);
        results.push({ gating, precision, held: steps.filter((s) => s.holds).pop() });
      }
    }
    console.log('\nlargest step that held (p95 capture-to-alert, frames dropped):');
    for (const r of results) {
      console.log(
        `  precision ${r.precision}, gating ${r.gating}: ${r.held ? `${r.held.streams} streams, p95 ${r.held.p95Ms.toFixed(0)} ms` : `none (below ${STEP})`}`,
      );
    }
    const best = results
      .filter((r) => r.held)
      .sort((a, b) => b.held!.streams - a.held!.streams || a.held!.p95Ms - b.held!.p95Ms)[0];
    console.log(
      best
        ? `capacity streams=${best.held!.streams} p95_ms=${best.held!.p95Ms.toFixed(0)} precision=${best.precision} gating=${best.gating} mode=embedded`
        : 'capacity streams=0 p95_ms=NaN precision=none gating=none mode=embedded',
    );
  },
  { exit: true },
);
