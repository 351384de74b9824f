import { strictMock } from '@app/testing';
import { MODEL_CATALOG } from './model.catalog';
import type { Int8Verdict, ModelManifest } from './model.manifest';
import {
  type PrecisionRepository,
  PrecisionError,
  PrecisionErrorCode,
  PrecisionResolver,
} from './precision.resolver';

const FP32_SHA = 'a'.repeat(64);

function fp32(verdict?: Int8Verdict, name = 'det'): ModelManifest {
  const base = JSON.parse(JSON.stringify(MODEL_CATALOG['yolox-nano'])) as ModelManifest;
  return {
    ...base,
    name,
    sha256: FP32_SHA,
    int8: { method: 'static-qdq-per-channel', ...(verdict ? { verdict } : {}) },
  };
}

function int8(sourceSha = FP32_SHA): ModelManifest {
  const { int8: _plan, ...base } = fp32();
  return {
    ...base,
    name: 'det-int8',
    sha256: 'b'.repeat(64),
    precision: 'int8',
    quantization: {
      source: { name: 'det', file: 'det.onnx', sha256: sourceSha },
      method: 'static-qdq-per-channel',
    },
  };
}

const SHIPPED: Int8Verdict = {
  ship: true,
  maxF1Drop: 0,
  speedup: { threads1: 1.3, threads2: 1.1 },
  note: 'measured',
};
const NOT_SHIPPED: Int8Verdict = {
  ...SHIPPED,
  ship: false,
  speedup: { threads1: 0.8, threads2: 0.9 },
};

/** A repository holding these manifests; `installed` lists the folders present on disk. */
function repository(manifests: ModelManifest[], installed: string[]): PrecisionRepository {
  return strictMock<PrecisionRepository>('repository', {
    modelsDir: '/models:/int8',
    manifest: jest.fn((name: string) => {
      const found = manifests.find((m) => m.name === name);
      if (!found) throw new Error(`no manifest for ${name} in this test`);
      return found;
    }),
    isInstalled: jest.fn((name: string) => installed.includes(name)),
  });
}

describe('PrecisionResolver', () => {
  describe('fp32', () => {
    it('loads the name asked for without looking for a variant', () => {
      const repo = repository([fp32(SHIPPED)], []);
      expect(new PrecisionResolver(repo).resolve('det', 'fp32')).toEqual({
        model: 'det',
        precision: 'fp32',
        reason: 'asked for',
      });
      expect(repo.isInstalled).not.toHaveBeenCalled();
    });

    it('refuses an INT8 model named directly, naming its FP32 source', () => {
      const resolver = new PrecisionResolver(repository([int8()], ['det-int8']));
      expect(() => resolver.resolve('det-int8', 'fp32')).toThrow(
        expect.objectContaining({ code: PrecisionErrorCode.NOT_FP32 }),
      );
      expect(() => resolver.resolve('det-int8', 'fp32')).toThrow(/name its FP32 source \(det\)/);
    });
  });

  describe('int8', () => {
    it('loads the -int8 variant made from these weights, whatever the verdict', () => {
      const resolver = new PrecisionResolver(
        repository([fp32(NOT_SHIPPED), int8()], ['det', 'det-int8']),
      );
      expect(resolver.resolve('det', 'int8')).toEqual({
        model: 'det-int8',
        precision: 'int8',
        reason: 'asked for',
      });
    });

    it('takes an INT8 model named directly as it is', () => {
      const resolver = new PrecisionResolver(repository([int8()], ['det-int8']));
      expect(resolver.resolve('det-int8', 'int8')).toMatchObject({
        model: 'det-int8',
        precision: 'int8',
      });
    });

    it('fails clearly when the variant is not on disk, naming the command that makes it', () => {
      const resolver = new PrecisionResolver(repository([fp32(SHIPPED)], ['det']));
      let error: unknown;
      try {
        resolver.resolve('det', 'int8');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PrecisionError);
      expect(error).toMatchObject({ code: PrecisionErrorCode.NO_INT8_VARIANT, model: 'det' });
      expect((error as Error).message).toBe(
        'no INT8 variant of det (det-int8) in /models:/int8: make it with `npm run quantize` ' +
          '(scripts/quantize) and list its output folder (.cache/models-int8) in ' +
          'VIGIL_MODELS_DIR; or use fp32 precision',
      );
    });

    it('says when the catalog plans no INT8 variant for the model at all', () => {
      const { int8: _plan, ...plain } = fp32();
      const resolver = new PrecisionResolver(repository([plain], ['det']));
      expect(() => resolver.resolve('det', 'int8')).toThrow(
        /no INT8 variant of det \(det-int8\) in \/models:\/int8: the catalog plans none for det/,
      );
    });

    it('refuses a variant quantized from other FP32 weights', () => {
      const resolver = new PrecisionResolver(
        repository([fp32(SHIPPED), int8('c'.repeat(64))], ['det', 'det-int8']),
      );
      expect(() => resolver.resolve('det', 'int8')).toThrow(
        expect.objectContaining({ code: PrecisionErrorCode.STALE_INT8_VARIANT }),
      );
      expect(() => resolver.resolve('det', 'int8')).toThrow(/run `npm run quantize` again/);
    });
  });

  describe('auto', () => {
    it('takes INT8 where the verdict shipped it and the variant is there', () => {
      const resolver = new PrecisionResolver(
        repository([fp32(SHIPPED), int8()], ['det', 'det-int8']),
      );
      expect(resolver.resolve('det', 'auto')).toEqual({
        model: 'det-int8',
        precision: 'int8',
        reason: 'auto: 1.3x/1.1x speed on 1/2 threads, largest F1 drop 0',
      });
    });

    it('stays FP32 where the verdict did not ship INT8, even with the variant on disk', () => {
      const repo = repository([fp32(NOT_SHIPPED), int8()], ['det', 'det-int8']);
      expect(new PrecisionResolver(repo).resolve('det', 'auto')).toEqual({
        model: 'det',
        precision: 'fp32',
        reason: 'auto: INT8 not shipped (0.8x/0.9x speed on 1/2 threads, largest F1 drop 0)',
      });
    });

    it('stays FP32 where no verdict is recorded', () => {
      const resolver = new PrecisionResolver(repository([fp32(), int8()], ['det', 'det-int8']));
      expect(resolver.resolve('det', 'auto')).toMatchObject({
        model: 'det',
        precision: 'fp32',
        reason: 'auto: no INT8 verdict recorded',
      });
    });

    it('falls back to FP32 on a machine without the generated files, and says why', () => {
      const resolver = new PrecisionResolver(repository([fp32(SHIPPED)], ['det']));
      const chosen = resolver.resolve('det', 'auto');
      expect(chosen).toMatchObject({ model: 'det', precision: 'fp32' });
      expect(chosen.reason).toMatch(/^auto: no INT8 variant of det \(det-int8\)/);
    });

    it('falls back to FP32 when the variant on disk is stale', () => {
      const resolver = new PrecisionResolver(
        repository([fp32(SHIPPED), int8('c'.repeat(64))], ['det', 'det-int8']),
      );
      expect(resolver.resolve('det', 'auto')).toMatchObject({ model: 'det', precision: 'fp32' });
    });
  });
});
