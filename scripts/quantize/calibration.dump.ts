/**
 * Dumps calibration inputs for the INT8 quantizer (scripts/quantize/quantize.py): the very
 * tensors each model receives in Vigil's embedded pipeline (real ffmpeg ingest, the streaming
 * log-mel front end, the letterbox/resize the detectors are configured with), recorded at the
 * onnxruntime seam rather than reimplemented in Python.
 *
 *   ts-node -r tsconfig-paths/register --transpile-only scripts/quantize/calibration.dump.ts OUT_DIR
 *
 * Inputs are fixtures disjoint from the eval corpus and the dev clips (which judge the INT8
 * models): fixtures/audio, fixtures/images and fixtures/video. Writes OUT_DIR/<model>.f32 (the
 * samples, float32 little-endian, back to back) and OUT_DIR/<model>.json (input name, dims of one
 * sample, count, sources).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { loadRuleSet } from '@app/fusion';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import {
  DEFAULT_AUDIO_MODEL,
  ModelLoader,
  ModelRepository,
  OnnxSessionFactory,
  type OrtRuntime,
  loadOnnxRuntime,
} from '@app/models';
import { EmbeddedPipeline } from '@app/pipeline';
import { fixturesDir, modelsDir } from '@app/testing';

/** Most samples kept per model: enough for MinMax ranges, small enough for CI. */
const MAX_SAMPLES = Number(process.env.CALIBRATION_MAX_SAMPLES ?? 240);

interface Recorded {
  inputName: string;
  dims: number[];
  samples: Float32Array[];
}

/** onnxruntime on this thread, every run's input kept (one sample per batch row). */
function recordingRuntime(real: OrtRuntime, records: Map<string, Recorded>): OrtRuntime {
  return {
    Tensor: real.Tensor,
    InferenceSession: {
      create: async (path: string, options: InferenceSession.SessionOptions) => {
        const session = await real.InferenceSession.create(path, options);
        const model = basename(join(path, '..'));
        const run = session.run.bind(session);
        (session as { run: unknown }).run = async (feeds: Record<string, Tensor>) => {
          const [inputName, tensor] = Object.entries(feeds)[0]!;
          const dims = [1, ...tensor.dims.slice(1)];
          const size = dims.reduce((a, b) => a * b, 1);
          const key = `${model}:${dims.join('x')}`;
          const record = records.get(key) ?? { inputName, dims, samples: [] };
          records.set(key, record);
          const data = tensor.data as Float32Array;
          for (let k = 0; k < tensor.dims[0]!; k++) {
            record.samples.push(data.slice(k * size, (k + 1) * size));
          }
          return run(feeds);
        };
        return session;
      },
    },
  };
}

/** Every n-th sample so the kept ones span all sources, not just the first files. */
function spread<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]!);
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: calibration.dump.ts OUT_DIR');
  mkdirSync(out, { recursive: true });
  const records = new Map<string, Recorded>();
  const real = await loadOnnxRuntime();
  const quiet = { log: () => undefined, warn: () => undefined };
  const loader = new ModelLoader(
    new ModelRepository(modelsDir()),
    new OnnxSessionFactory(quiet, {}, async () => recordingRuntime(real, records)),
  );
  const rules = await loadRuleSet();
  const fixtures = fixturesDir();
  const list = (dir: string) =>
    readdirSync(join(fixtures, dir))
      .sort()
      .map((f) => join(fixtures, dir, f));
  const sources = {
    audio: list('audio'),
    video: [...list('images'), ...list('video')],
  };
  const audioModel = await loader.audio(DEFAULT_AUDIO_MODEL);
  for (const detector of ['yolox-nano', 'fastestdet']) {
    const videoModel = await loader.video(detector);
    const pipeline = new EmbeddedPipeline({
      decoder: new MediaDecoder(new FfmpegLocator()),
      audioModel,
      videoModel,
      rules,
      // Every frame at 2 fps (no motion gating): the detector's inputs as a camera gives them.
      fps: 2,
    });
    await pipeline.start();
    // Audio windows once (the first pass); the second pass adds only the other detector's frames.
    const inputs = detector === 'yolox-nano' ? [...sources.audio, ...sources.video] : sources.video;
    for (const source of inputs) {
      await pipeline.analyze({ streamId: 'calibration', source });
    }
    await pipeline.stop();
  }
  const byModel = new Map<string, Recorded>();
  for (const [key, record] of records) {
    const model = key.split(':')[0]!;
    const kept = byModel.get(model);
    // The audio tagger sees several window lengths (the end of a file is shorter): keep the
    // most common one, the steady-state window.
    if (!kept || record.samples.length > kept.samples.length) byModel.set(model, record);
  }
  for (const [model, record] of byModel) {
    const samples = spread(record.samples, MAX_SAMPLES);
    const body = Buffer.concat(
      samples.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength)),
    );
    writeFileSync(join(out, `${model}.f32`), body);
    const index = {
      model,
      inputName: record.inputName,
      dims: record.dims,
      count: samples.length,
      seen: record.samples.length,
      sources: (model === basename(DEFAULT_AUDIO_MODEL) ? sources.audio : sources.video).map((s) =>
        s.slice(fixtures.length + 1),
      ),
    };
    writeFileSync(join(out, `${model}.json`), JSON.stringify(index, null, 2) + '\n');
    console.log(
      `${model}: ${samples.length} of ${record.samples.length} inputs [${record.dims.join(', ')}]`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
