/**
 * Batching detector frames across streams: one run of N frames against N runs of one, in one run
 * of this bench, on the execution provider the config names (VIGIL_EXECUTION_PROVIDER, cpu by
 * default; bench/gpu.sh runs it on cuda and tensorrt too).
 *
 *   npm run bench:batch   (BENCH_ROUNDS=n, BENCH_BATCHES=2,4,8; needs `npm run quantize`, which
 *                          makes yolox-nano-batch, the same weights with a dynamic batch axis)
 *
 * Frames: the fixtures' labelled images, letterboxed by ffmpeg as ingest does, so every frame of
 * a batch is a different real picture. Sessions are made as Vigil makes them (worker-thread
 * onnxruntime, 1 and 2 intra-op threads). Single runs go to the batch model too, so the two
 * columns differ only in how frames are grouped. Per frame, median over rounds that alternate
 * the two: wall and CPU time, and the ratio singles/batch (above 1: batching is faster). Decoding
 * boxes costs the same either way and is left out. Nothing is asserted.
 */
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '@app/config';
import { ModelRepository, type ModelSession, OnnxSessionFactory, hwcToChw } from '@app/models';
import { detectorFrame, fixture, modelsPathWithInt8 } from '@app/testing';
import { checkQuietMachine, machineLine } from './bench.support';

const MODEL = 'yolox-nano-batch';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 7));
const quiet = { log: () => undefined, warn: (m: string) => console.warn(m) };
const BATCHES = (process.env.BENCH_BATCHES ?? '2,4,8').split(',').map(Number);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  console.log(machineLine());
  await checkQuietMachine();
  const config = loadConfig(process.env);
  const repository = new ModelRepository(modelsPathWithInt8());
  let resolved;
  try {
    resolved = repository.resolve(MODEL);
  } catch {
    throw new Error(`${MODEL} not found: run \`npm run quantize\` first (it makes the model)`);
  }
  const { manifest, onnxPath } = resolved;
  const { width, height, name: inputName } = manifest.input;
  const size = 3 * width! * height!;
  const images = readdirSync(fixture('images'))
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .map((f) => fixture(`images/${f}`));
  const maxBatch = Math.max(...BATCHES);
  const tensors = Array.from({ length: maxBatch }, (_, i) => {
    const frame = detectorFrame(manifest, images[i % images.length]!);
    return hwcToChw(
      frame.pixels,
      width!,
      height!,
      manifest.input.scale ?? 1,
      new Float32Array(size),
    );
  });
  console.log(
    `${MODEL} on ${config.executionProvider}; ${maxBatch} real frames from ${images.length} ` +
      `fixture images; ${ROUNDS} rounds; ms per frame (median); ratio = singles/batch`,
  );
  console.log('batch threads |  wall singles  batch  ratio |  cpu singles  batch  ratio');
  for (const threads of [1, 2]) {
    const factory = new OnnxSessionFactory(quiet, {
      executionProvider: config.executionProvider,
      intraOpNumThreads: threads,
    });
    const session = await factory.create(onnxPath);
    try {
      for (const n of BATCHES) {
        await race(
          session,
          inputName,
          tensors.slice(0, n),
          { width: width!, height: height! },
          threads,
        );
      }
    } finally {
      await session.release();
    }
  }
}

async function race(
  session: ModelSession,
  input: string,
  frames: Float32Array[],
  shape: { width: number; height: number },
  threads: number,
): Promise<void> {
  const dims = (n: number) => [n, 3, shape.height, shape.width];
  const one = (f: Float32Array) => session.run({ [input]: { data: f, dims: dims(1) } });
  const joined = new Float32Array(frames.length * frames[0]!.length);
  frames.forEach((f, i) => joined.set(f, i * f.length));
  const singles = async () => {
    for (const f of frames) await one(f);
  };
  const batch = () => session.run({ [input]: { data: joined, dims: dims(frames.length) } });
  for (let i = 0; i < 2; i++) {
    await singles();
    await batch();
  }
  const wall = { singles: [] as number[], batch: [] as number[] };
  const cpu = { singles: [] as number[], batch: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [key, call] of [
      ['singles', singles],
      ['batch', batch],
    ] as const) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      await call();
      const used = process.cpuUsage(cpuStarted);
      wall[key].push((performance.now() - started) / frames.length);
      cpu[key].push((used.user + used.system) / 1000 / frames.length);
    }
  }
  const cells = (m: { singles: number[]; batch: number[] }) => {
    const s = median(m.singles);
    const b = median(m.batch);
    return `${s.toFixed(2).padStart(12)} ${b.toFixed(2).padStart(6)} ${(s / b).toFixed(2).padStart(5)}x`;
  };
  console.log(
    `${String(frames.length).padStart(5)} ${String(threads).padStart(7)} |${cells(wall)} |${cells(cpu)}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
