import { MODEL_CATALOG } from './model.catalog';
import { ManifestError, readsContext, validateManifest } from './model.manifest';

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function problemsOf(value: unknown): string[] {
  try {
    validateManifest(value, 'test.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as ManifestError).problems;
  }
  throw new Error('expected the manifest to be rejected');
}

describe('validateManifest', () => {
  it('accepts every catalog entry', () => {
    for (const [name, manifest] of Object.entries(MODEL_CATALOG)) {
      expect(validateManifest(clone(manifest), name)).toEqual(manifest);
    }
  });

  it('names each bad key, all at once', () => {
    const bad = clone(MODEL_CATALOG['yolox-nano']) as unknown as Record<string, unknown>;
    bad.task = 'segmentation';
    bad.sha256 = 'abc';
    (bad.input as Record<string, unknown>).scale = 0.5;
    delete bad.license;
    const problems = problemsOf(bad);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^task: must be one of audio-tagging, object-detection/),
        expect.stringMatching(/^sha256: /),
        'input.scale: must be 1 or 1/255',
        'license: is required',
      ]),
    );
  });

  it('rejects label groups for classes of the other modality and bad thresholds', () => {
    const bad = clone(MODEL_CATALOG['efficientat-mn04']);
    (bad.labelGroups as Record<string, unknown>).person = { labels: ['Speech'], threshold: 0.5 };
    bad.labelGroups.siren!.threshold = 1.5;
    bad.labelGroups.alarm!.labels = [];
    (bad.labelGroups.gunshot as unknown as Record<string, unknown>).combine = 'avg';
    const problems = problemsOf(bad);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^labelGroups\.person: is not a canonical class for audio-tagging/),
        'labelGroups.siren.threshold: must be in [0, 1]',
        'labelGroups.alarm.labels: must be a non-empty array of label names',
        expect.stringMatching(/^labelGroups\.gunshot\.combine: must be one of max, noisy-or, sum/),
      ]),
    );
  });

  it('lets a class be scored on a longer context only when the features define one', () => {
    const bad = clone(MODEL_CATALOG['efficientat-mn04']);
    delete bad.features!.contextSec;
    bad.labelGroups.alarm!.context = true;
    (bad.labelGroups.siren as unknown as Record<string, unknown>).context = 'yes';
    expect(problemsOf(bad)).toEqual(
      expect.arrayContaining([
        'labelGroups.alarm.context: needs features.contextSec',
        'labelGroups.siren.context: must be true or false',
      ]),
    );
    bad.features!.contextSec = bad.features!.windowSec;
    expect(problemsOf(bad)).toContain('features.contextSec: must be longer than windowSec');
  });

  it('checks each member of an anyOf group as a decision of its own', () => {
    const bad = clone(MODEL_CATALOG['efficientat-mn04']);
    const raw = (v: unknown) => v as Record<string, unknown>;
    raw(bad.labelGroups.alarm).anyOf = [
      { labels: ['Alarm'], threshold: 2 },
      { labels: [], threshold: 0.5, head: { weights: [1], bias: 0 }, release: 0.1 },
    ];
    raw(bad.labelGroups.siren).anyOf = [{ labels: ['Siren'], threshold: 0.5 }];
    raw(bad.labelGroups.siren).allOf = [{ labels: ['Siren'], threshold: 0.5 }];
    expect(problemsOf(bad)).toEqual(
      expect.arrayContaining([
        'labelGroups.alarm.anyOf[0].threshold: must be in [0, 1]',
        'labelGroups.alarm.anyOf[1]: a member decides one window: no anyOf, allOf or release of its own',
        'labelGroups.alarm.anyOf[1].labels: must be a non-empty array of label names',
        'labelGroups.alarm.anyOf[1].head.weights: must be 0 numbers, one per label',
        'labelGroups.siren.anyOf: must be an array of at least two decisions',
        'labelGroups.siren.allOf: must be an array of at least two decisions',
        'labelGroups.siren: has anyOf or allOf, not both',
      ]),
    );
  });

  it('refuses anyOf and allOf on a detector, whose box mapper reads one decision', () => {
    const bad = clone(MODEL_CATALOG['yolox-nano']);
    const person = bad.labelGroups.person!;
    person.anyOf = [person, person];
    expect(problemsOf(bad)).toContain(
      'labelGroups.person: anyOf and allOf are for audio-tagging models',
    );
  });

  it('requires features for audio and input geometry and nms for detectors', () => {
    const audio = clone(MODEL_CATALOG['efficientat-mn04']) as unknown as Record<string, unknown>;
    delete audio.features;
    expect(problemsOf(audio)).toContain('features: is required for audio-tagging');

    const video = clone(MODEL_CATALOG['fastestdet']) as unknown as Record<string, unknown>;
    delete (video.input as Record<string, unknown>).width;
    delete video.nms;
    expect(problemsOf(video)).toEqual(
      expect.arrayContaining([
        'input.width: is required for object-detection',
        'nms: is required for object-detection',
      ]),
    );
  });

  it('rejects a class threshold under the decoder cut, which could never fire differently', () => {
    const bad = clone(MODEL_CATALOG['yolox-nano']);
    bad.labelGroups.person!.threshold = 0.1;
    expect(problemsOf(bad)).toContain(
      'labelGroups.person.threshold: must not be below nms.scoreThreshold (0.3)',
    );
  });

  it("checks a companion's label groups as the model's own, and allows one on audio only", () => {
    const audio = clone(MODEL_CATALOG['efficientat-mn04']) as unknown as Record<string, unknown>;
    audio.companion = {
      models: ['yamnet'],
      labelGroups: { person: { labels: ['Speech'], threshold: 2 } },
    };
    expect(problemsOf(audio)).toEqual([
      expect.stringMatching(/^companion\.labelGroups\.person: is not a canonical class/),
      'companion.labelGroups.person.threshold: must be in [0, 1]',
    ]);
    const video = clone(MODEL_CATALOG['yolox-nano']) as unknown as Record<string, unknown>;
    video.companion = { models: ['yamnet'], labelGroups: {} };
    expect(problemsOf(video)).toEqual(['companion: is for audio-tagging models']);
    audio.companion = { models: ['yamnet', 'yamnet'], labelGroups: {} };
    expect(problemsOf(audio)).toEqual(['companion.models: names a model twice']);
    audio.companion = { model: 'yamnet', labelGroups: {} };
    expect(problemsOf(audio)).toEqual([
      'companion.models: must be a non-empty list of model names',
    ]);
    const companion = clone(MODEL_CATALOG.yamnet) as unknown as Record<string, unknown>;
    companion.output = { name: 'scores', decoder: 'sigmoid-multilabel' };
    expect(problemsOf(companion)).toEqual([
      'output.decoder: must be probabilities for audio-companion',
    ]);
  });

  it('keeps model files inside the model folder', () => {
    const bad = clone(MODEL_CATALOG['yolox-nano']);
    bad.file = '../../etc/passwd';
    bad.labels.file = 'sub/labels.txt';
    expect(problemsOf(bad)).toEqual(
      expect.arrayContaining([
        'file: must be a file name inside the model folder (no path separators)',
        'labels.file: must be a file name inside the model folder (no path separators)',
      ]),
    );
  });

  it('rejects a non-object', () => {
    expect(problemsOf(null)).toEqual(['(root): must be an object']);
  });
  describe('precision', () => {
    const base = () =>
      JSON.parse(JSON.stringify(MODEL_CATALOG['yolox-nano'])) as Record<string, unknown>;

    it('accepts an INT8 model that names its source, and an FP32 entry with a verdict', () => {
      const quantized = {
        ...base(),
        int8: undefined,
        precision: 'int8',
        quantization: {
          source: { name: 'yolox-nano', file: 'yolox_nano.onnx', sha256: 'a'.repeat(64) },
          method: 'static-qdq-per-channel',
        },
      };
      expect(() => validateManifest(quantized)).not.toThrow();
      const planned = {
        ...base(),
        int8: {
          method: 'static-qdq',
          verdict: {
            ship: false,
            maxF1Drop: 0.4,
            speedup: { threads1: 1.2, threads2: 1.1 },
            note: 'measured',
          },
        },
      };
      expect(() => validateManifest(planned)).not.toThrow();
    });

    it('names every bad precision key', () => {
      const bad = {
        ...base(),
        precision: 'int4',
        int8: { verdict: { ship: 'yes', speedup: { threads1: 0 } } },
      };
      expect(() => validateManifest(bad)).toThrow(/precision: must be one of fp32, int8/);
      expect(() => validateManifest(bad)).toThrow(/int8\.method: is required/);
      expect(() => validateManifest(bad)).toThrow(/int8\.verdict\.ship: must be true or false/);
      expect(() => validateManifest(bad)).toThrow(/int8\.verdict\.speedup\.threads1: must be > 0/);
      const unsourced = { ...base(), int8: undefined, precision: 'int8' };
      expect(() => validateManifest(unsourced)).toThrow(/quantization: is required/);
    });
  });
});

describe('readsContext', () => {
  it('is true for a class on the context itself or through any member', () => {
    const window = { labels: ['Alarm'], threshold: 0.5 };
    expect(readsContext(window)).toBe(false);
    expect(readsContext({ ...window, context: true })).toBe(true);
    expect(readsContext({ ...window, anyOf: [window, { ...window, context: true }] })).toBe(true);
    expect(readsContext({ ...window, anyOf: [window, window] })).toBe(false);
    expect(readsContext({ ...window, allOf: [{ ...window, context: true }, window] })).toBe(true);
    expect(readsContext(undefined)).toBe(false);
  });
});
