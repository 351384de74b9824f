/**
 * Shared helpers for the speed and memory benchmarks: machine load, CPU accounting per phase
 * (this process, its main thread, its reaped children, everybody else), cached media made by
 * ffmpeg in the OS temp folder, and a sampling CPU profile aggregated by library.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { FfmpegLocator } from '@app/media';
import { fixture } from '@app/testing';

const REPO_ROOT = join(__dirname, '..');

/** Clock ticks per second of /proc times (100 on every Linux this runs on, asked anyway). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export function machineLine(): string {
  const cpu = cpus();
  return `node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), load average ${loadAverage()}`;
}

/**
 * Warns when the machine is busy (other people's CPU work skews every ratio); with
 * BENCH_WAIT_SEC=n waits up to n seconds for the 1-minute load average to drop below maxLoad.
 */
export async function checkQuietMachine(maxLoad = Number(process.env.BENCH_MAX_LOAD ?? 1.2)) {
  const waitSec = Number(process.env.BENCH_WAIT_SEC ?? 0);
  const until = Date.now() + waitSec * 1000;
  while (loadavg()[0]! >= maxLoad && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 5000));
  }
  const load = loadavg()[0]!;
  if (load >= maxLoad) {
    console.log(
      `WARNING: 1-min load average ${load.toFixed(2)} >= ${maxLoad}: other work shares the cores, ` +
        `ratios below are pessimistic (set BENCH_WAIT_SEC to wait for a quiet machine)`,
    );
  }
  return load;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

function statFields(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  // Fields after "(comm)"; comm may hold spaces and parentheses.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

interface ProcTimes {
  /** utime + stime of this process, all threads. */
  self: number;
  /** utime + stime of the main (JS) thread. */
  main: number;
  /** cutime + cstime: children that exited and were reaped (ffmpeg runs). */
  children: number;
}

function procTimes(): ProcTimes {
  // /proc/<pid>/stat fields (1-based): 14 utime, 15 stime, 16 cutime, 17 cstime; after
  // slicing off "pid (comm) " index 0 is field 3.
  const f = statFields('/proc/self/stat');
  const m = statFields(`/proc/self/task/${process.pid}/stat`);
  return {
    self: Number(f[11]) + Number(f[12]),
    main: Number(m[11]) + Number(m[12]),
    children: Number(f[13]) + Number(f[14]),
  };
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

export interface CpuMark {
  wall: bigint;
  proc: ProcTimes;
  machine: number;
  load: number;
}

export interface CpuSpent {
  wallSec: number;
  /** This Node process, every thread (main thread + onnxruntime/V8/libuv helpers). */
  selfSec: number;
  /** The main thread alone: JS, and whatever native code runs synchronously on it. */
  mainSec: number;
  /** Children reaped during the phase: ffmpeg. */
  childSec: number;
  /** CPU that other processes on the machine used meanwhile. */
  foreignSec: number;
  /** 1-min load average when the phase began. */
  loadAtStart: number;
}

export function cpuMark(): CpuMark {
  return {
    wall: process.hrtime.bigint(),
    proc: procTimes(),
    machine: machineBusyTicks(),
    load: loadavg()[0]!,
  };
}

export function cpuSince(mark: CpuMark): CpuSpent {
  const now = cpuMark();
  const self = (now.proc.self - mark.proc.self) / CLK_TCK;
  const children = (now.proc.children - mark.proc.children) / CLK_TCK;
  const machine = (now.machine - mark.machine) / CLK_TCK;
  return {
    wallSec: Number(now.wall - mark.wall) / 1e9,
    selfSec: self,
    mainSec: (now.proc.main - mark.proc.main) / CLK_TCK,
    childSec: children,
    foreignSec: Math.max(0, machine - self - children),
    loadAtStart: mark.load,
  };
}

export async function measured<T>(run: () => Promise<T>): Promise<{ value: T; cpu: CpuSpent }> {
  const mark = cpuMark();
  const value = await run();
  return { value, cpu: cpuSince(mark) };
}

export function cpuLine(cpu: CpuSpent): string {
  return (
    `wall ${cpu.wallSec.toFixed(2)} s | node ${cpu.selfSec.toFixed(2)} s ` +
    `(main thread ${cpu.mainSec.toFixed(2)}) | ffmpeg ${cpu.childSec.toFixed(2)} s | ` +
    `others ${cpu.foreignSec.toFixed(2)} s | load ${cpu.loadAtStart.toFixed(2)}`
  );
}

// ---------------------------------------------------------------------------------------------
// Media made with ffmpeg, cached in the OS temp folder

export function benchTmpDir(): string {
  const dir = join(tmpdir(), 'vigil-bench');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function ffmpegBinary(): string {
  return new FfmpegLocator().locate();
}

export function runFfmpeg(args: string[]): void {
  const result = spawnSync(
    ffmpegBinary(),
    ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (result.status !== 0) {
    throw new Error(
      `ffmpeg ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}`,
    );
  }
}

/** `make(tmpPath)` writes the file once; later runs reuse it. Half-written files never count. */
export function cachedMedia(name: string, make: (path: string) => void): string {
  const path = join(benchTmpDir(), name);
  if (existsSync(path) && statSync(path).size > 0) return path;
  const partial = `${path}.partial-${process.pid}${name.slice(name.lastIndexOf('.'))}`;
  try {
    make(partial);
    renameSync(partial, path);
  } finally {
    rmSync(partial, { force: true });
  }
  return path;
}

export function probeDuration(path: string): number {
  const ffprobe = ffmpegBinary().replace(/ffmpeg(\.exe)?$/, 'ffprobe$1');
  const out = execFileSync(
    existsSync(ffprobe) ? ffprobe : 'ffprobe',
    ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', path],
    { encoding: 'utf8' },
  );
  return Number(out.trim());
}

// ---------------------------------------------------------------------------------------------
// Sampling CPU profile of the main thread, aggregated

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  byArea: { area: string; ms: number }[];
  byFunction: { fn: string; area: string; ms: number }[];
}

function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName.startsWith('(')) return functionName;
    return '(native)';
  }
  if (url.startsWith('node:')) return 'node internals';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split(sep);
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const rel = relative(REPO_ROOT, path).split(sep);
  if (rel[0] === 'libs' || rel[0] === 'apps') return `${rel[0]}/${rel[1]}`;
  return rel.slice(0, 2).join('/');
}

/** Runs `fn` under V8's sampling profiler (main thread only) and sums self time. */
export async function profiled<T>(
  fn: () => Promise<T>,
  intervalUs = 500,
): Promise<{ value: T; profile: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
  let value: T;
  let profile: CpuProfile;
  try {
    value = await fn();
  } finally {
    profile = ((await session.post('Profiler.stop')) as unknown as { profile: CpuProfile }).profile;
    session.disconnect();
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; area: string; ms: number }>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const area = areaOf(url, functionName);
    const ms = us / 1000;
    total += ms;
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const file = url ? url.slice(url.lastIndexOf('/') + 1) : '';
    const key =
      `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    const entry = fns.get(key) ?? { fn: key, area, ms: 0 };
    entry.ms += ms;
    fns.set(key, entry);
  }
  return {
    value,
    profile: {
      totalMs: total,
      byArea: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
      byFunction: [...fns.values()].sort((a, b) => b.ms - a.ms),
    },
  };
}

export function printProfile(summary: ProfileSummary, top = 20): void {
  const pct = (ms: number) => `${((100 * ms) / summary.totalMs).toFixed(1).padStart(5)} %`;
  console.log(
    `  main-thread self time by area (${(summary.totalMs / 1000).toFixed(2)} s sampled):`,
  );
  for (const { area, ms } of summary.byArea.slice(0, 14)) {
    console.log(`    ${area.padEnd(28)}${(ms / 1000).toFixed(2).padStart(8)} s ${pct(ms)}`);
  }
  console.log(`  top ${top} functions by self time:`);
  for (const { fn, area, ms } of summary.byFunction.slice(0, top)) {
    console.log(
      `    ${(ms / 1000).toFixed(2).padStart(7)} s ${pct(ms)}  ${fn.slice(0, 70).padEnd(70)} ${area}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const s = (sec: number, digits = 2) => `${sec.toFixed(digits)} s`;
export const x = (ratio: number, digits = 2) => `${ratio.toFixed(digits)}`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export function row(label: string, value: string, note = ''): void {
  console.log(`${label.padEnd(46)}${value.padStart(12)}${note ? `  ${note}` : ''}`);
}

const MIX_EVENTS: { file: string; atSec: number; gain: number }[] = [
  { file: 'audio/glass_fs221528_unfa_glass-break.mp3', atSec: 22, gain: 1 },
  { file: 'audio/scream_wilhelm_stk.ogg', atSec: 41, gain: 1 },
  { file: 'audio/dog_fs328730_ivolipa_dog_bark.flac', atSec: 58, gain: 1 },
  { file: 'audio/glass_fs88808_lsprice_dug_glass3.ogg', atSec: 77, gain: 1 },
  { file: 'audio/gunshot_fs522085_magnuswaker_pistol.flac', atSec: 96, gain: 1 },
  { file: 'audio/speech_librispeech_198-209-0000.ogg', atSec: 103, gain: 0.7 },
  { file: 'audio/alarm_fs325367_moonlightshadow_fire-house-alarm.mp3', atSec: 122, gain: 0.8 },
];

/**
 * The 139 s Intel person-detection video with a real audio track mixed in: made once
 * and cached, shared by the pipeline and Kafka benches.
 */
export function intelWithAudio(): string {
  const video = fixture('video/intel_one-by-one-person-detection.mp4');
  const roomTone = fixture('audio/ambience_fs257351_klankbeeld_room-tone-calm-9pm.ogg');
  const durationSec = probeDuration(video);
  return cachedMedia('intel_person_with_audio.v1.mp4', (out) => {
    const mono = 'aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=mono';
    const inputs = ['-i', video, '-stream_loop', '-1', '-i', roomTone];
    const filters = [`[1:a]${mono},volume=2[bg]`];
    MIX_EVENTS.forEach((e, k) => {
      inputs.push('-i', fixture(e.file));
      const delay = Math.round(e.atSec * 1000);
      filters.push(`[${k + 2}:a]${mono},volume=${e.gain},adelay=delays=${delay}:all=1[e${k}]`);
    });
    const mixIn = ['[bg]', ...MIX_EVENTS.map((_, k) => `[e${k}]`)].join('');
    filters.push(
      `${mixIn}amix=inputs=${MIX_EVENTS.length + 1}:duration=first:dropout_transition=0:normalize=0[a]`,
    );
    runFfmpeg([
      ...inputs,
      '-filter_complex',
      filters.join(';'),
      '-map',
      '0:v:0',
      '-c:v',
      'copy',
      '-map',
      '[a]',
      '-c:a',
      'aac',
      '-b:a',
      '96k',
      '-t',
      durationSec.toFixed(3),
      '-shortest',
      '-movflags',
      '+faststart',
      out,
    ]);
  });
}

/**
 * Runs a bench's `main`: a failure prints its error and exits 1. `exit` also ends the process
 * after a success, for benches whose Kafka clients keep it alive after closing.
 */
export function runBench(main: () => Promise<void>, options: { exit?: boolean } = {}): void {
  main().then(
    () => {
      if (options.exit) process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** A raw little-endian float32 file (the reference PCM of ../shared/fixtures/reference). */
export function readF32le(path: string): Float32Array {
  const bytes = readFileSync(path);
  const out = new Float32Array(bytes.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}
