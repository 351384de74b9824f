import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { iou, MODEL_CATALOG, ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import type { LoadedAudioModel, LoadedVideoModel, ModelsLogger, RawBox } from '@app/models';
import { MemoryBus } from '@app/bus';
import { type AudioFeatureWindow, Topics } from '@app/contracts';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { IngestStage, SpectrogramStage, spectrogramOptionsFor } from '@app/pipeline';
import { companionModelsDir, detectorFrame, fixture, modelsDir } from '@app/testing';

/**
 * The catalogued models, run for real on the reference inputs of ../shared/fixtures
 * (see FIXTURES.md for where the expected numbers come from).
 */

const quietLogger = (): ModelsLogger & { log: jest.Mock; warn: jest.Mock } => ({
  log: jest.fn(),
  warn: jest.fn(),
});

function readF32(path: string): Float32Array {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function best(boxes: RawBox[], label: string): RawBox {
  const found = boxes.filter((b) => b.label === label).sort((a, b) => b.score - a.score)[0];
  if (!found)
    throw new Error(
      `no ${label} among ${boxes.map((b) => `${b.label} ${b.score.toFixed(2)}`).join(', ')}`,
    );
  return found;
}

describe('models (real ONNX models on reference inputs)', () => {
  const repository = new ModelRepository(modelsDir());
  const loader = new ModelLoader(repository, new OnnxSessionFactory(quietLogger()));

  // The companions are built or unpacked into their own folder (npm run models:companions).
  it.each(Object.keys(MODEL_CATALOG).filter((n) => MODEL_CATALOG[n]!.task !== 'audio-companion'))(
    'the shared copy of %s matches the catalog checksum',
    async (name) => {
      const result = await repository.verify(name);
      expect(result).toMatchObject({ ok: true, actualSha256: MODEL_CATALOG[name]!.sha256 });
    },
  );

  it('says how to get a model that is not installed', () => {
    const empty = mkdtempSync(join(tmpdir(), 'vigil-no-models-'));
    try {
      expect(() => new ModelRepository(empty).resolve('yolox-nano')).toThrow(
        `model yolox-nano not found in ${empty} (no yolox_nano.onnx); run \`vigil models pull yolox-nano\` or set VIGIL_MODELS_DIR`,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  describe('efficientat-mn04', () => {
    let audio: LoadedAudioModel;
    beforeAll(async () => {
      audio = await loader.audio('efficientat-mn04');
    });

    it('tags the metro reference log-mel like the reference implementation (top 5, ±0.002)', async () => {
      const data = readF32(fixture('reference/metro_logmel_128xT.f32le'));
      expect(data.length).toBe(128 * 1000);
      const [scores] = await audio.tagger.classify([{ data, frames: 1000 }]);
      expect(scores).toHaveLength(527);
      const top = [...scores!]
        .map((score, i) => ({ label: audio.labels[i]!, score }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 5);
      const expected: [string, number][] = [
        ['Train', 0.726],
        ['Rail transport', 0.577],
        ['Railroad car, train wagon', 0.559],
        ['Subway, metro, underground', 0.493],
        ['Vehicle', 0.24],
      ];
      expect(top.map((t) => t.label)).toEqual(expected.map(([label]) => label));
      top.forEach((t, i) => expect(Math.abs(t.score - expected[i]![1])).toBeLessThanOrEqual(0.002));
      // A metro station is none of Vigil's classes.
      expect(audio.mapper.detect(scores!)).toEqual([]);
    });

    it('gives the same scores batched as one window at a time (dynamic batch axis)', async () => {
      const full = readF32(fixture('reference/metro_logmel_128xT.f32le'));
      const windows = Array.from({ length: 4 }, (_, w) => {
        const frames = 100;
        const data = new Float32Array(128 * frames);
        for (let m = 0; m < 128; m++)
          data.set(full.subarray(m * 1000 + w * 250, m * 1000 + w * 250 + frames), m * frames);
        return { data, frames };
      });
      const batched = await audio.tagger.classify(windows);
      for (let w = 0; w < windows.length; w++) {
        const [alone] = await audio.tagger.classify([windows[w]!]);
        let maxDiff = 0;
        for (let c = 0; c < 527; c++)
          maxDiff = Math.max(maxDiff, Math.abs(alone![c]! - batched[w]![c]!));
        expect(maxDiff).toBeLessThan(1e-5);
      }
    });

    it('hears the reference glass break as glass_break with the catalog label groups', async () => {
      const data = readF32(fixture('reference/glass_logmel_128xT.f32le'));
      const frames = data.length / 128;
      const [scores] = await audio.tagger.classify([{ data, frames }]);
      const detections = audio.mapper.detect(scores!);
      expect(detections.map((d) => d.cls)).toEqual(['glass_break']);
      // heard through the group's own labels (the calibration decides which those are)
      const group = audio.manifest.labelGroups!.glass_break!.labels;
      expect(detections[0]!.labels.length).toBeGreaterThan(0);
      expect(group).toEqual(expect.arrayContaining(detections[0]!.labels));
    });
  });

  describe('the companions beside efficientat-mn04', () => {
    const both = new ModelRepository([modelsDir(), companionModelsDir()].join(delimiter));

    it.each(['yamnet', 'ced-tiny'])(
      '%s is the very file the catalog names (npm run models:companions makes it to that checksum)',
      async (name) => {
        expect(await both.verify(name)).toMatchObject({ ok: true, labelsOk: true });
      },
    );

    /** Windows of a recording as the pipeline cuts them, each with its companions' inputs. */
    async function windowsOf(file: string): Promise<AudioFeatureWindow[]> {
      const manifest = both.manifest('efficientat-mn04');
      const bus = new MemoryBus();
      const windows: AudioFeatureWindow[] = [];
      await bus.subscribe(Topics.features, 'test', async ({ value }) => {
        if (!value.final) windows.push(value);
      });
      const spectrogram = new SpectrogramStage(
        bus,
        spectrogramOptionsFor(manifest, ['yamnet', 'ced-tiny']),
      );
      await spectrogram.start();
      const decoder = new MediaDecoder(new FfmpegLocator({ env: process.env }));
      const rate = manifest.features!.recipe.sampleRate;
      await new IngestStage(bus, decoder, {
        audio: { sampleRate: rate, chunkSamples: rate / 10 },
        video: {
          fps: 1,
          width: 64,
          height: 64,
          resize: 'stretch',
          padColor: 114,
          pixelFormat: 'bgr24',
        },
      }).run({ streamId: 'a', source: file, video: false });
      await bus.idle();
      await spectrogram.stop();
      await bus.close();
      return windows;
    }

    it('each hears a dog bark as a dog bark, and the models together decide dog_bark', async () => {
      const logger = quietLogger();
      const loaded = await new ModelLoader(both, new OnnxSessionFactory(quietLogger()), {
        logger,
      }).audio('efficientat-mn04');
      const { companion } = loaded;
      expect(companion?.name).toBe(MODEL_CATALOG['efficientat-mn04']!.companion!.models.join('+'));
      const windows = await windowsOf(fixture('audio/dog_fs328730_ivolipa_dog_bark.flac'));
      const theirs = await Promise.all(companion!.models.map((m) => m.classify(windows)));
      companion!.models.forEach(({ name }, c) => {
        const labels = both.labels(name);
        const loudest = (label: string) =>
          Math.max(...theirs[c]!.map((s) => s[labels.indexOf(label)]!));
        // Each names it its own way: on this 1.26 s clip CED's loudest is Bow-wow at 0.34,
        // its top label (Dog 0.16, Bark 0.16), where YAMNet gives Dog and Bark over 0.4.
        const dog = Math.max(loudest('Dog'), loudest('Bark'), loudest('Bow-wow')) >= 0.3;
        expect({ name, dog }).toEqual({
          name,
          dog: true,
        });
      });
      const own = await loaded.tagger.classify(windows);
      const decided = own.map((scores, i) => {
        const joined = Float32Array.from([...scores, ...theirs.flatMap((rows) => [...rows[i]!])]);
        return companion!.mapper.detect(joined, joined).map((d) => d.cls);
      });
      expect(decided.flat()).toContain('dog_bark');
    });

    it('is left out, with a log line that says how to install it, where it is not installed', async () => {
      const logger = quietLogger();
      const alone = await new ModelLoader(repository, new OnnxSessionFactory(quietLogger()), {
        logger,
      }).audio('efficientat-mn04');
      expect(alone.companion).toBeUndefined();
      expect(logger.log).toHaveBeenCalledWith(expect.stringContaining('npm run models:companions'));
      expect(logger.warn).not.toHaveBeenCalled();
    });

    it('are all or nothing: with one of them missing, mn04 decides alone and the log names it', async () => {
      const partial = mkdtempSync(join(tmpdir(), 'vigil-one-companion-'));
      try {
        const named = MODEL_CATALOG['efficientat-mn04']!.companion!.models;
        for (const name of named.slice(0, -1))
          symlinkSync(join(companionModelsDir(), name), join(partial, name));
        const logger = quietLogger();
        const loaded = await new ModelLoader(
          new ModelRepository([modelsDir(), partial].join(delimiter)),
          new OnnxSessionFactory(quietLogger()),
          { logger },
        ).audio('efficientat-mn04');
        expect(loaded.companion).toBeUndefined();
        expect(logger.log).toHaveBeenCalledWith(
          expect.stringContaining(`its companion ${named.at(-1)} is not installed`),
        );
      } finally {
        rmSync(partial, { recursive: true, force: true });
      }
    });
  });

  describe('yolox-nano on dog.jpg', () => {
    let video: LoadedVideoModel;
    let boxes: RawBox[];
    beforeAll(async () => {
      video = await loader.video('yolox-nano');
      boxes = await video.detector.detect(
        detectorFrame(video.manifest, fixture('reference/dog.jpg')),
      );
    });

    it.each([
      ['dog', 0.83, [133, 207, 325, 542]],
      ['car', 0.81, [466, 78, 692, 172]],
      ['bicycle', 0.8, [45, 132, 572, 430]],
    ] as const)(
      'finds the %s (score ±0.05, box ±10 px of the 768x576 original)',
      (label, score, box) => {
        const found = best(boxes, label);
        expect(Math.abs(found.score - score)).toBeLessThanOrEqual(0.05);
        found.box.forEach((v, i) => expect(Math.abs(v - box[i]!)).toBeLessThanOrEqual(10));
      },
    );

    it('keeps frames in flight at once apart: each converts into an input of its own in the worker', async () => {
      const dog = detectorFrame(video.manifest, fixture('reference/dog.jpg'));
      const grey = { ...dog, pixels: new Uint8Array(dog.pixels.length).fill(114) };
      const frames = [dog, grey, dog, grey, grey, dog];
      const together = await Promise.all(frames.map((f) => video.detector.detect(f)));
      expect(together.map((b) => b.length)).toEqual(frames.map((f) => (f === dog ? 4 : 0)));
      for (const result of together.filter((_, i) => frames[i] === dog)) {
        expect(result).toEqual(boxes);
      }
    });

    it('maps them to canonical classes: the dog (also read as cat) is one animal, the pickup a vehicle', () => {
      const detections = video.mapper.detect(boxes);
      expect(detections.map((d) => d.cls).sort()).toEqual(['animal', 'vehicle']);
      const animal = detections.find((d) => d.cls === 'animal')!;
      expect(animal.labels[0]).toBe('dog');
    });
  });

  describe('fastestdet on dog.jpg (stretched to 352x352, threshold 0.6)', () => {
    let boxes: RawBox[];
    beforeAll(async () => {
      const video = await loader.video('fastestdet');
      boxes = await video.detector.detect(
        detectorFrame(video.manifest, fixture('reference/dog.jpg')),
      );
    });

    it.each([
      ['dog', [133, 207, 325, 542]],
      ['car', [466, 78, 692, 172]],
      ['bicycle', [45, 132, 572, 430]],
    ] as const)(
      'finds the %s where YOLOX does (IoU > 0.6: one coarse stride-16 map)',
      (label, box) => {
        const found = best(boxes, label);
        expect(found.score).toBeGreaterThanOrEqual(0.6);
        expect(iou(found.box, box)).toBeGreaterThan(0.6);
      },
    );
  });

  it('falls back to the CPU when CUDA is asked for but cannot start', async () => {
    const logger = quietLogger();
    const factory = new OnnxSessionFactory(logger, { executionProvider: 'cuda' });
    const session = await factory.create(repository.onnxPath('fastestdet'));
    try {
      if (session.executionProvider === 'cpu') {
        expect(logger.warn).toHaveBeenCalledWith(
          expect.stringMatching(/execution provider cuda unavailable, falling back to cpu/),
        );
      } else {
        // A build with the CUDA provider on a GPU machine: no fallback, no warning.
        expect(session.executionProvider).toBe('cuda');
        expect(logger.warn).not.toHaveBeenCalled();
      }
      const out = await session.run({
        'input.1': { data: new Float32Array(3 * 352 * 352), dims: [1, 3, 352, 352] },
      });
      expect(out['758']!.dims).toEqual([1, 85, 22, 22]);
    } finally {
      await session.release();
    }
  });
});
