import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MODEL_CATALOG } from './model.catalog';
import type { ModelManifest } from './model.manifest';
import { ManifestError } from './model.manifest';
import { ModelNotFoundError, ModelRepository, userModelsDir } from './model.repository';

const ONNX_BYTES = Buffer.from('not really onnx, but bytes to hash');
const SHA = createHash('sha256').update(ONNX_BYTES).digest('hex');
const LABELS = 'person\n';
const LABELS_SHA = createHash('sha256').update(LABELS).digest('hex');

function manifest(name: string): ModelManifest {
  const base = JSON.parse(JSON.stringify(MODEL_CATALOG['yolox-nano'])) as ModelManifest;
  return {
    ...base,
    name,
    file: 'model.onnx',
    sha256: SHA,
    sizeBytes: ONNX_BYTES.length,
    labels: { ...base.labels, sha256: LABELS_SHA },
  };
}

describe('ModelRepository', () => {
  let dir: string;
  const catalog = { tiny: manifest('tiny') };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-models-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function install(name: string, files: Record<string, string | Buffer>): void {
    mkdirSync(join(dir, name), { recursive: true });
    for (const [file, content] of Object.entries(files))
      writeFileSync(join(dir, name, file), content);
  }

  it('defaults to the user cache folder', () => {
    expect(userModelsDir('/home/ada')).toBe('/home/ada/.cache/vigil/models');
  });

  it('resolves a catalogued model to its files and labels', () => {
    install('tiny', { 'model.onnx': ONNX_BYTES, 'coco_labels.txt': 'person\ncar\n' });
    const repo = new ModelRepository(dir, catalog);
    const resolved = repo.resolve('tiny');
    expect(resolved.manifestSource).toBe('catalog');
    expect(resolved.onnxPath).toBe(join(dir, 'tiny', 'model.onnx'));
    expect(repo.labels('tiny')).toEqual(['person', 'car']);
  });

  it('says how to get a model that is missing', () => {
    const repo = new ModelRepository(dir, catalog);
    expect(() => repo.resolve('tiny')).toThrow(ModelNotFoundError);
    expect(() => repo.resolve('tiny')).toThrow(
      `model tiny not found in ${dir} (no model.onnx); run \`vigil models pull tiny\` or set VIGIL_MODELS_DIR`,
    );
  });

  it('names the catalog when a model is unknown', () => {
    const repo = new ModelRepository(dir, catalog);
    expect(() => repo.manifest('nope')).toThrow(
      /model nope not found in .*not in the catalog \(tiny\)/,
    );
  });

  it('refuses names that would leave the models folder', () => {
    const repo = new ModelRepository(dir, catalog);
    expect(() => repo.resolve('../etc')).toThrow('invalid model name "../etc"');
  });

  it("lets a folder's model.json replace the catalog entry", () => {
    const custom = manifest('tiny');
    custom.labelGroups = { person: { labels: ['person'], threshold: 0.9 } };
    install('tiny', {
      'model.json': JSON.stringify(custom),
      'model.onnx': ONNX_BYTES,
      'coco_labels.txt': 'person\n',
    });
    const resolved = new ModelRepository(dir, catalog).resolve('tiny');
    expect(resolved.manifestSource).toBe('folder');
    expect(resolved.manifest.labelGroups).toEqual({
      person: { labels: ['person'], threshold: 0.9 },
    });
  });

  it('accepts user models that are not in the catalog and lists them', () => {
    install('mine', {
      'model.json': JSON.stringify(manifest('mine')),
      'model.onnx': ONNX_BYTES,
      'coco_labels.txt': 'x\n',
    });
    install('stray', { 'notes.txt': 'no manifest here' });
    const repo = new ModelRepository(dir, catalog);
    expect(repo.names()).toEqual(['tiny', 'mine']);
    expect(repo.resolve('mine').manifestSource).toBe('folder');
  });

  it('reports a broken model.json with its path and the bad key', () => {
    const bad = { ...manifest('tiny'), threshold: undefined, task: 'guessing' };
    install('tiny', { 'model.json': JSON.stringify(bad) });
    const repo = new ModelRepository(dir, catalog);
    expect(() => repo.manifest('tiny')).toThrow(ManifestError);
    expect(() => repo.manifest('tiny')).toThrow(/model\.json: task: must be one of/);
    install('tiny', { 'model.json': '{ nope' });
    expect(() => repo.manifest('tiny')).toThrow(/not valid JSON/);
  });

  it('requires a user model.json to carry its folder name', () => {
    install('tiny', { 'model.json': JSON.stringify(manifest('other')) });
    expect(() => new ModelRepository(dir, catalog).manifest('tiny')).toThrow(
      'name: must equal the folder name "tiny"',
    );
  });

  it('verifies the checksum and size by streaming the file', async () => {
    install('tiny', { 'model.onnx': ONNX_BYTES, 'coco_labels.txt': LABELS });
    const repo = new ModelRepository(dir, catalog);
    await expect(repo.verify('tiny')).resolves.toMatchObject({
      ok: true,
      labelsOk: true,
      actualSha256: SHA,
    });

    install('tiny', { 'coco_labels.txt': 'person\nbicycle\n' });
    await expect(repo.verify('tiny')).resolves.toMatchObject({ ok: false, labelsOk: false });
    install('tiny', { 'coco_labels.txt': LABELS });

    install('tiny', { 'model.onnx': Buffer.concat([ONNX_BYTES, Buffer.from('!')]) });
    const result = await repo.verify('tiny');
    expect(result.ok).toBe(false);
    expect(result.actualSizeBytes).toBe(ONNX_BYTES.length + 1);
    expect(result.expectedSha256).toBe(SHA);
  });
  describe('several folders (VIGIL_MODELS_DIR as a path list)', () => {
    let second: string;
    beforeEach(() => {
      second = mkdtempSync(join(tmpdir(), 'vigil-models-2-'));
    });
    afterEach(() => rmSync(second, { recursive: true, force: true }));

    it('finds each model in the first folder that has it, and lists models of every folder', () => {
      install('tiny', { 'model.onnx': ONNX_BYTES, 'coco_labels.txt': LABELS });
      const own = {
        ...manifest('tiny-int8'),
        int8: undefined,
        precision: 'int8',
        quantization: {
          source: { name: 'tiny', file: 'model.onnx', sha256: SHA },
          method: 'static-qdq',
        },
      };
      mkdirSync(join(second, 'tiny-int8'));
      writeFileSync(join(second, 'tiny-int8', 'model.json'), JSON.stringify(own));
      writeFileSync(join(second, 'tiny-int8', 'model.onnx'), ONNX_BYTES);
      writeFileSync(join(second, 'tiny-int8', 'coco_labels.txt'), LABELS);
      const repo = new ModelRepository([dir, second].join(delimiter), catalog);
      expect(repo.roots).toEqual([dir, second]);
      expect(repo.names()).toEqual(['tiny', 'tiny-int8']);
      expect(repo.folder('tiny')).toBe(join(dir, 'tiny'));
      expect(repo.folder('tiny-int8')).toBe(join(second, 'tiny-int8'));
      // Not installed anywhere: a pull would put it in the first folder.
      expect(repo.folder('other')).toBe(join(dir, 'other'));
      expect(repo.isInstalled('tiny-int8')).toBe(true);
      expect(repo.isInstalled('other')).toBe(false);
    });

    it('verifies a quantized model against the catalog checksum of its FP32 source', async () => {
      const stale = {
        ...manifest('tiny-int8'),
        int8: undefined,
        precision: 'int8',
        quantization: {
          source: { name: 'tiny', file: 'model.onnx', sha256: 'f'.repeat(64) },
          method: 'static-qdq',
        },
      };
      mkdirSync(join(second, 'tiny-int8'));
      writeFileSync(join(second, 'tiny-int8', 'model.json'), JSON.stringify(stale));
      writeFileSync(join(second, 'tiny-int8', 'model.onnx'), ONNX_BYTES);
      writeFileSync(join(second, 'tiny-int8', 'coco_labels.txt'), LABELS);
      const repo = new ModelRepository([dir, second].join(delimiter), catalog);
      expect(await repo.verify('tiny-int8')).toMatchObject({
        ok: false,
        sourceOk: false,
        actualSha256: SHA,
      });
    });
  });
});
