import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  MODEL_CATALOG,
  ModelLoader,
  type ModelManifest,
  ModelRepository,
  OnnxSessionFactory,
  PrecisionError,
  PrecisionErrorCode,
  type RawBox,
  iou,
} from '@app/models';
import { detectorFrame, fixture, int8ModelsDir, modelsDir } from '@app/testing';
import { runCli } from '@app/testing/cli-runner';

/**
 * The INT8 variants `npm run quantize` makes (scripts/quantize), loaded the way Vigil loads
 * them: from a second models folder listed in VIGIL_MODELS_DIR, verified by checksum, run on a
 * real picture and compared with their FP32 source.
 */

const quiet = { log: () => undefined, warn: () => undefined };

function best(boxes: RawBox[], label: string): RawBox {
  const found = boxes.filter((b) => b.label === label).sort((a, b) => b.score - a.score)[0];
  if (!found) {
    throw new Error(
      `no ${label} among ${boxes.map((b) => `${b.label} ${b.score.toFixed(2)}`).join(', ')}`,
    );
  }
  return found;
}

describe('INT8 models (made by npm run quantize)', () => {
  const repository = new ModelRepository([modelsDir(), int8ModelsDir()].join(delimiter));
  const sessions = new OnnxSessionFactory(quiet);
  const int8 = new ModelLoader(repository, sessions, {
    precision: { audio: 'int8', video: 'int8' },
  });
  const fp32 = new ModelLoader(repository, sessions, {
    precision: { audio: 'fp32', video: 'fp32' },
  });
  const planned = Object.keys(MODEL_CATALOG).filter((name) => MODEL_CATALOG[name]!.int8);

  it('are listed beside the FP32 models, from the second folder', () => {
    expect(repository.names()).toEqual(
      expect.arrayContaining([...planned, ...planned.map((n) => `${n}-int8`)]),
    );
    for (const name of planned) {
      expect(repository.folder(`${name}-int8`)).toBe(`${int8ModelsDir()}/${name}-int8`);
      expect(repository.folder(name)).toBe(`${modelsDir()}/${name}`);
    }
  });

  it.each(planned)('%s-int8 verifies by checksum and names its FP32 source', async (name) => {
    const result = await repository.verify(`${name}-int8`);
    expect(result).toMatchObject({ ok: true, labelsOk: true, sourceOk: true });
    const manifest = repository.manifest(`${name}-int8`);
    expect(manifest).toMatchObject({
      precision: 'int8',
      quantization: {
        source: { name, sha256: MODEL_CATALOG[name]!.sha256 },
        method: MODEL_CATALOG[name]!.int8!.method,
      },
    });
    // Smaller than its source: int8 weights are a quarter of float32 ones.
    expect(manifest.sizeBytes).toBeLessThan(MODEL_CATALOG[name]!.sizeBytes / 2);
  });

  // YOLOX-nano INT8 loses the dog (0.83 in FP32, under the 0.3 cut in INT8): one of the losses
  // that keep it on FP32 under auto (its catalog verdict). Its other two boxes still hold.
  describe.each([
    ['yolox-nano', ['car', 'bicycle']],
    ['fastestdet', ['dog', 'car', 'bicycle']],
  ])('%s-int8 on dog.jpg', (name, labels) => {
    let fp32Boxes: RawBox[];
    let int8Boxes: RawBox[];
    beforeAll(async () => {
      const [a, b] = await Promise.all([fp32.video(name), int8.video(name)]);
      expect(a.precision).toBe('fp32');
      expect(b).toMatchObject({ precision: 'int8', manifest: { name: `${name}-int8` } });
      // Tuned like its FP32 model now, whatever its model.json copied when it was made.
      expect(b.manifest.labelGroups).toEqual(a.manifest.labelGroups);
      expect(b.manifest.nms).toEqual(a.manifest.nms);
      const frame = detectorFrame(a.manifest, fixture('reference/dog.jpg'));
      fp32Boxes = await a.detector.detect(frame);
      int8Boxes = await b.detector.detect(frame);
    });

    it.each(labels)('finds the %s near the FP32 box (IoU > 0.7, score ±0.2)', (label) => {
      const ref = best(fp32Boxes, label);
      const found = best(int8Boxes, label);
      // Loose on purpose (measured: IoU 0.77-0.99, scores within 0.1): this checks that the
      // variant detects, not that it is as good; `vigil eval` judges that.
      expect(iou(found.box, ref.box)).toBeGreaterThan(0.7);
      expect(Math.abs(found.score - ref.score)).toBeLessThan(0.2);
    });
  });

  it('refuses --precision int8 for a model without a variant, naming the command that makes it', async () => {
    // Only the FP32 folder: the variants are not there.
    const bare = new ModelLoader(new ModelRepository(modelsDir()), sessions, {
      precision: { video: 'int8' },
    });
    const failure = bare.video('fastestdet');
    await expect(failure).rejects.toBeInstanceOf(PrecisionError);
    await expect(failure).rejects.toMatchObject({ code: PrecisionErrorCode.NO_INT8_VARIANT });
    await expect(failure).rejects.toThrow(/no INT8 variant of fastestdet .*`npm run quantize`/);
  });

  it("runs a variant with its FP32 model's current tuning, not the copy in its model.json", async () => {
    const root = mkdtempSync(join(tmpdir(), 'vigil-int8-'));
    try {
      cpSync(join(int8ModelsDir(), 'fastestdet-int8'), join(root, 'fastestdet-int8'), {
        recursive: true,
      });
      const file = join(root, 'fastestdet-int8', 'model.json');
      const copied = JSON.parse(readFileSync(file, 'utf8')) as ModelManifest;
      copied.labelGroups.person!.threshold = 0.99;
      writeFileSync(file, JSON.stringify(copied));
      const loader = new ModelLoader(
        new ModelRepository([modelsDir(), root].join(delimiter)),
        sessions,
        { precision: { video: 'int8' } },
      );
      const loaded = await loader.video('fastestdet');
      expect(loaded.manifest.name).toBe('fastestdet-int8');
      expect(loaded.manifest.labelGroups.person!.threshold).toBe(
        MODEL_CATALOG.fastestdet!.labelGroups.person!.threshold,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('falls back to FP32 under auto when the variants are missing', async () => {
    const bare = new ModelLoader(new ModelRepository(modelsDir()), sessions);
    const loaded = await bare.video('yolox-nano');
    expect(loaded).toMatchObject({ precision: 'fp32', manifest: { name: 'yolox-nano' } });
  });
});

describe('vigil with INT8 models (the CLI)', () => {
  jest.setTimeout(120_000);

  it('lists and verifies the INT8 variants from the second folder of VIGIL_MODELS_DIR', async () => {
    const models = [modelsDir(), int8ModelsDir()].join(delimiter);
    const list = await runCli(['models', 'list', '--models', models]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /yolox-nano-int8\s+object-detection\s+int8\s+[\d.]+ MB\s+installed/,
    );
    expect(list.stdout).toMatch(/yolox-nano\s+object-detection\s+fp32\s+3\.71 MB\s+installed/);
    const verify = await runCli(['models', 'verify', 'yolox-nano-int8', 'fastestdet-int8'], {
      VIGIL_MODELS_DIR: models,
    });
    expect(verify.stdout).toBe('  yolox-nano-int8: ok\n  fastestdet-int8: ok\n');
    expect(verify.code).toBe(0);
  });

  it('analyze --precision int8 without the variants fails with the command that makes them', async () => {
    const result = await runCli(
      ['analyze', fixture('reference/dog.jpg'), '--precision', 'int8', '--json'],
      { VIGIL_MODELS_DIR: modelsDir() },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /no INT8 variant of efficientat-mn04 \(efficientat-mn04-int8\) in .*`npm run quantize`.*or use fp32 precision/,
    );
  });

  it('analyze --precision int8 runs the variants and says so', async () => {
    const result = await runCli(
      ['analyze', fixture('reference/dog.jpg'), '--precision', 'int8', '--json'],
      { VIGIL_MODELS_DIR: [modelsDir(), int8ModelsDir()].join(delimiter), VIGIL_LOG_LEVEL: 'log' },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/yolox-nano: int8 \(yolox-nano-int8; asked for\)/);
    expect(result.stderr).toMatch(/efficientat-mn04: int8 \(efficientat-mn04-int8; asked for\)/);
  });
});
