/**
 * INT8 against FP32, per model, in one run: the speed half of each model's INT8 verdict.
 *
 *   npm run bench:int8   (BENCH_ROUNDS=n, BENCH_CALLS=n, BENCH_MODELS=a,b; needs `npm run quantize`)
 *
 * Each catalogued model with an INT8 variant is loaded twice (fp32, int8) through the same
 * ModelLoader and session factory Vigil runs (worker-thread onnxruntime), at 1 and 2 intra-op
 * threads, and called on a real input: the dog.jpg reference frame for the detectors (decoded by
 * ffmpeg as the manifest says), 1 s windows of the metro reference log-mel for the tagger (one
 * window, and a batch of 16 as the inference stage's micro-batcher sends under backlog).
 * FP32 and INT8 alternate in rounds so machine noise hits both; the median per call of each is
 * printed with the ratio FP32/INT8 (above 1: INT8 is faster). No time is asserted.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  type LoadedAudioModel,
  type LoadedVideoModel,
  MODEL_CATALOG,
  ModelLoader,
  ModelRepository,
  OnnxSessionFactory,
  type PrecisionChoice,
} from '@app/models';
import { detectorFrame, fixture, modelsPathWithInt8 } from '@app/testing';
import { checkQuietMachine, machineLine } from './bench.support';

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 7));
const CALLS = Math.max(1, Number(process.env.BENCH_CALLS ?? 20));
const quiet = { log: () => undefined, warn: () => undefined };

type Call = () => Promise<unknown>;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Timing {
  /** Wall milliseconds per call. */
  wall: number;
  /** CPU milliseconds per call, every thread of this process (the session's worker included). */
  cpu: number;
}

/**
 * Per call, median over rounds, the two calls alternating round by round. CPU time is printed
 * beside wall time: on a shared machine wall time mostly measures the neighbours, while CPU
 * time still measures the work (at 1 thread; at 2, spinning threads count too).
 */
async function race(fp32: Call, int8: Call): Promise<{ fp32: Timing; int8: Timing }> {
  for (let i = 0; i < 3; i++) {
    await fp32();
    await int8();
  }
  const wall = { fp32: [] as number[], int8: [] as number[] };
  const cpu = { fp32: [] as number[], int8: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [key, call] of [
      ['fp32', fp32],
      ['int8', int8],
    ] as const) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      for (let k = 0; k < CALLS; k++) await call();
      const used = process.cpuUsage(cpuStarted);
      wall[key].push((performance.now() - started) / CALLS);
      cpu[key].push((used.user + used.system) / 1000 / CALLS);
    }
  }
  return {
    fp32: { wall: median(wall.fp32), cpu: median(cpu.fp32) },
    int8: { wall: median(wall.int8), cpu: median(cpu.int8) },
  };
}

function metroWindows(count: number): { data: Float32Array; frames: number }[] {
  const buf = readFileSync(fixture('reference/metro_logmel_128xT.f32le'));
  const full = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const total = full.length / 128;
  const frames = 100;
  return Array.from({ length: count }, (_, w) => {
    const start = (w * 50) % (total - frames);
    const data = new Float32Array(128 * frames);
    for (let m = 0; m < 128; m++) {
      data.set(full.subarray(m * total + start, m * total + start + frames), m * frames);
    }
    return { data, frames };
  });
}

async function main(): Promise<void> {
  console.log(machineLine());
  await checkQuietMachine();
  const repository = new ModelRepository(modelsPathWithInt8());
  const only = process.env.BENCH_MODELS?.split(',');
  const names = Object.keys(MODEL_CATALOG).filter(
    (n) => MODEL_CATALOG[n]!.int8 && (!only || only.includes(n)),
  );
  console.log(
    `${ROUNDS} rounds x ${CALLS} calls; ms per call (median of rounds); ratio = fp32/int8`,
  );
  console.log(
    'model              input        threads |  wall fp32   int8   ratio |   cpu fp32   int8   ratio',
  );
  for (const name of names) {
    for (const threads of [1, 2]) {
      const factory = new OnnxSessionFactory(quiet, { intraOpNumThreads: threads });
      const load = (precision: PrecisionChoice) =>
        new ModelLoader(repository, factory, { precision: { audio: precision, video: precision } });
      const cases: [string, Call, Call][] = [];
      if (MODEL_CATALOG[name]!.task === 'audio-tagging') {
        const [fp32, int8]: LoadedAudioModel[] = await Promise.all([
          load('fp32').audio(name),
          load('int8').audio(name),
        ]);
        for (const batch of [1, 16]) {
          const windows = metroWindows(batch);
          cases.push([
            `${batch} x 1 s`,
            () => fp32!.tagger.classify(windows),
            () => int8!.tagger.classify(windows),
          ]);
        }
      } else {
        const [fp32, int8]: LoadedVideoModel[] = await Promise.all([
          load('fp32').video(name),
          load('int8').video(name),
        ]);
        const frame = detectorFrame(fp32!.manifest, fixture('reference/dog.jpg'));
        cases.push([
          `dog.jpg`,
          () => fp32!.detector.detect(frame),
          () => int8!.detector.detect(frame),
        ]);
      }
      for (const [input, fp32, int8] of cases) {
        const ms = await race(fp32, int8);
        const cells = (key: keyof Timing) =>
          `${ms.fp32[key].toFixed(2).padStart(9)} ${ms.int8[key].toFixed(2).padStart(6)} ` +
          `${(ms.fp32[key] / ms.int8[key]).toFixed(2).padStart(6)}x`;
        console.log(
          `${name.padEnd(18)} ${input.padEnd(12)} ${String(threads).padStart(7)} |` +
            `${cells('wall')} |${cells('cpu')}`,
        );
      }
    }
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
