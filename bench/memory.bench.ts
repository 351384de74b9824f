/**
 * Peak memory of `vigil analyze` against the length of its input: a 1-minute and a 10-minute
 * clip (640x480, 25 fps, H.264 + AAC, the glass-break composite looped), each analysed by the
 * real CLI in a child process whose RSS is sampled every 100 ms.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/memory.bench.ts
 *   (npm run bench:memory; BENCH_CLI=src runs apps/vigil/src/main.ts through ts-node instead
 *   of the built dist/apps/vigil/main.js, whose RSS then includes the TypeScript compiler)
 *
 * Memory must not grow with the input: every queue is bounded, so peak RSS of the 10-minute
 * run should equal the 1-minute run's (ratio ~1.0), and both should stay under 500 MB.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, modelsDir } from '@app/testing';
import {
  benchTmpDir,
  cachedMedia,
  checkQuietMachine,
  loadAverage,
  machineLine,
  probeDuration,
  row,
  runFfmpeg,
  x,
  runBench,
} from './bench.support';

const REPO_ROOT = join(__dirname, '..');
const DIST_CLI = join(REPO_ROOT, 'dist', 'apps', 'vigil', 'main.js');
const SRC_CLI = join(REPO_ROOT, 'apps', 'vigil', 'src', 'main.ts');
const SAMPLE_MS = 100;
const TARGET_MB = 500;

// ---------------------------------------------------------------------------------------------
// Clips

function makeClips(): { oneMin: string; tenMin: string } {
  const source = fixture('clips/comp01_person_glassbreak.mp4');
  const oneMin = cachedMedia('comp01_loop_60s.v1.mp4', (out) =>
    runFfmpeg([
      '-stream_loop',
      '-1',
      '-i',
      source,
      '-t',
      '60',
      '-vf',
      'scale=640:480,fps=25',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '23',
      '-g',
      '50',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '96k',
      '-ac',
      '1',
      '-movflags',
      '+faststart',
      out,
    ]),
  );
  // Ten copies of the 1-minute clip, joined without re-encoding: the same content, 10x longer.
  const tenMin = cachedMedia('comp01_loop_600s.v1.mp4', (out) => {
    const list = join(benchTmpDir(), 'comp01_loop_600s.concat.txt');
    writeFileSync(list, Array.from({ length: 10 }, () => `file '${oneMin}'\n`).join(''));
    runFfmpeg([
      '-f',
      'concat',
      '-safe',
      '0',
      '-i',
      list,
      '-c',
      'copy',
      '-movflags',
      '+faststart',
      out,
    ]);
  });
  return { oneMin, tenMin };
}

// ---------------------------------------------------------------------------------------------
// The CLI in a child process, its memory sampled from /proc

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function cliCommand(): { argv: string[]; label: string } {
  if (process.env.BENCH_CLI !== 'src' && existsSync(DIST_CLI)) {
    const built = statSync(DIST_CLI).mtimeMs;
    const sources = Math.max(
      newestSource(join(REPO_ROOT, 'apps')),
      newestSource(join(REPO_ROOT, 'libs')),
    );
    const stale =
      sources > built
        ? ` (WARNING: sources changed ${((sources - built) / 1000).toFixed(0)} s after this build; run npm run build)`
        : '';
    return { argv: [DIST_CLI], label: `built CLI dist/apps/vigil/main.js${stale}` };
  }
  return {
    argv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', SRC_CLI],
    label: 'apps/vigil/src/main.ts through ts-node (RSS includes the TypeScript compiler)',
  };
}

/** kB fields of /proc/<pid>/status, or undefined once the process is gone. */
function procStatus(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

interface MemoryRun {
  /** Peak resident set of the Node process (max of VmHWM and sampled VmRSS). */
  peakRss: number;
  /** Peak RSS of ffmpeg (its own process, sampled). */
  peakFfmpegRss: number;
  /** Sampled Node RSS over time: [seconds since start, bytes]. */
  series: [number, number][];
  wallSec: number;
  summary: Record<string, unknown>;
  incidents: number;
}

function runCli(clip: string): Promise<MemoryRun> {
  const { argv } = cliCommand();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...argv, 'analyze', clip, '--json'], {
    cwd: REPO_ROOT,
    env: { ...process.env, VIGIL_MODELS_DIR: modelsDir(), VIGIL_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let peakRss = 0;
  let peakFfmpegRss = 0;
  const series: [number, number][] = [];
  const sample = () => {
    const me = procStatus(pid);
    if (!me) return;
    peakRss = Math.max(peakRss, me.rss, me.hwm);
    series.push([Number(process.hrtime.bigint() - started) / 1e9, me.rss]);
    for (const kid of childrenOf(pid)) {
      const k = procStatus(kid);
      if (k) peakFfmpegRss = Math.max(peakFfmpegRss, k.rss, k.hwm);
    }
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'exit' comes before the process is reaped by libuv only in theory; the last sample
    // before it (<= 100 ms old) and VmHWM, which never decreases, cover the tail.
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const wallSec = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) {
        reject(new Error(`vigil analyze ${clip} exited ${code ?? signal}: ${stderr.trim()}`));
        return;
      }
      const lines = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const summary = lines.find((l) => l.type === 'summary') ?? {};
      const incidents = lines.filter((l) => l.type === 'incident').length;
      resolve({ peakRss, peakFfmpegRss, series, wallSec, summary, incidents });
    });
  });
}

/** RSS at fractions of the run: flat after the start means nothing grows with the input. */
function trend(series: [number, number][]): string {
  if (series.length === 0) return 'no samples';
  const end = series[series.length - 1]![0];
  return [0.1, 0.25, 0.5, 0.75, 0.95]
    .map((f) => {
      const at = series.find(([t]) => t >= f * end) ?? series[series.length - 1]!;
      return `${(f * 100).toFixed(0)}%: ${(at[1] / 1048576).toFixed(0)}`;
    })
    .join(', ');
}

/** RSS change between 25 % and 95 % of the run (start-up and teardown left out), in MB. */
function middleGrowthMb(series: [number, number][]): number {
  if (series.length < 2) return 0;
  const end = series[series.length - 1]![0];
  const at = (f: number) => (series.find(([t]) => t >= f * end) ?? series[series.length - 1]!)[1];
  return (at(0.95) - at(0.25)) / 1048576;
}

async function main(): Promise<void> {
  console.log(
    'memory: peak RSS of `vigil analyze --json` in a child process, 1 min vs 10 min input',
  );
  console.log(machineLine());
  await checkQuietMachine();
  const { oneMin, tenMin } = makeClips();
  const cli = cliCommand();
  console.log(`runner: ${cli.label}`);
  console.log(`sampling /proc/<pid>/status (VmRSS, VmHWM) every ${SAMPLE_MS} ms`);

  const runs: { label: string; clip: string; durationSec: number; run?: MemoryRun }[] = [
    { label: '1 min', clip: oneMin, durationSec: probeDuration(oneMin) },
    { label: '10 min', clip: tenMin, durationSec: probeDuration(tenMin) },
  ];
  for (const r of runs) {
    const load = loadAverage();
    r.run = await runCli(r.clip);
    const { run } = r;
    console.log('');
    console.log(`${r.label}: ${r.clip} (${r.durationSec.toFixed(1)} s, load average ${load})`);
    console.log(
      `  wall ${run.wallSec.toFixed(1)} s (${x(r.durationSec / run.wallSec, 1)}x real time), ` +
        `decoded ${String(run.summary.decodedSec)} s, ${run.incidents} incidents`,
    );
    console.log(
      `  peak RSS node ${(run.peakRss / 1048576).toFixed(0)} MB, ffmpeg ${(run.peakFfmpegRss / 1048576).toFixed(0)} MB`,
    );
    console.log(`  node RSS (MB) at % of run: ${trend(run.series)}`);
    const growth = middleGrowthMb(run.series);
    console.log(
      `  node RSS change from 25 % to 95 % of the run: ${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MB`,
    );
  }

  const [one, ten] = runs.map((r) => r.run!);
  const mbOf = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
  console.log('');
  console.log(`load average now ${loadAverage()}`);
  row('peak RSS, 1 min (node)', mbOf(one!.peakRss));
  row('peak RSS, 10 min (node)', mbOf(ten!.peakRss));
  row('ratio 10 min / 1 min', x(ten!.peakRss / one!.peakRss), 'target ~1.0: no growth with length');
  row(
    `10 min peak vs ${TARGET_MB} MB target`,
    x(ten!.peakRss / (TARGET_MB * 1048576)),
    ten!.peakRss < TARGET_MB * 1048576 ? 'under target' : 'OVER TARGET',
  );
  row(
    'peak RSS node + ffmpeg, 10 min',
    mbOf(ten!.peakRss + ten!.peakFfmpegRss),
    'ffmpeg is a separate process',
  );
}

runBench(main);
