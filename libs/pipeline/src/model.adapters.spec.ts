import {
  type AudioTagger,
  type LoadedAudioModel,
  LabelGroupMapper,
  MODEL_CATALOG,
  type CompanionInput,
} from '@app/models';
import { TaggerClassifier } from './model.adapters';

const LABELS = ['Glass', 'Alarm'];

/** mn04's features, two labels: glass read on the window, alarm on the context. */
function model(contextSec: number | undefined) {
  const base = MODEL_CATALOG['efficientat-mn04'];
  const labelGroups = {
    glass_break: { labels: ['Glass'], threshold: 0.5 },
    alarm: { labels: ['Alarm'], threshold: 0.5, context: contextSec !== undefined },
  };
  const manifest = { ...base, features: { ...base.features!, contextSec }, labelGroups };
  // A tagger whose "scores" say how long each input was: [frames / 1000, frames / 1000].
  const classify = jest.fn<
    ReturnType<AudioTagger['classify']>,
    Parameters<AudioTagger['classify']>
  >(async (windows) => windows.map((w) => Float32Array.of(w.frames / 1000, w.frames / 1000)));
  const loaded = {
    manifest,
    labels: LABELS,
    precision: 'fp32',
    tagger: { classify } as unknown as AudioTagger,
    mapper: new LabelGroupMapper(LABELS, labelGroups),
  } satisfies LoadedAudioModel;
  return { classifier: new TaggerClassifier(loaded), classify };
}

const patch = (frames: number) => ({ frames, data: new Float32Array(128 * frames) });

describe('TaggerClassifier', () => {
  it('runs windows and their longer contexts in one call, and scores context classes on them', async () => {
    const { classifier, classify } = model(2);
    const scores = await classifier.score([
      { ...patch(100), context: patch(200) },
      // A context no longer than its window is the window: not run twice.
      { ...patch(100), context: patch(100) },
      patch(50),
    ]);
    expect(classify).toHaveBeenCalledTimes(1);
    expect(classify.mock.calls[0]![0].map((w) => w.frames)).toEqual([100, 100, 50, 200]);
    expect(scores.map((s) => s.map((c) => [c.cls, c.score]))).toEqual([
      [
        ['glass_break', expect.closeTo(0.1, 6)],
        ['alarm', expect.closeTo(0.2, 6)],
      ],
      [
        ['glass_break', expect.closeTo(0.1, 6)],
        ['alarm', expect.closeTo(0.1, 6)],
      ],
      [
        ['glass_break', expect.closeTo(0.05, 6)],
        ['alarm', expect.closeTo(0.05, 6)],
      ],
    ]);
  });

  it('builds a per-stream context of contextSec only when a class reads it', () => {
    const context = model(2).classifier.context();
    expect(context).toBeDefined();
    const first = context!.extend({ startSec: 0, ...patch(100) });
    const second = context!.extend({ startSec: 1, ...patch(100) });
    expect([first.frames, second.frames]).toEqual([100, 200]);
    expect(model(undefined).classifier.context()).toBeUndefined();
  });

  describe('with YAMNet and CED-Tiny beside the tagger', () => {
    function withCompanions() {
      const { classify } = model(2);
      const base = MODEL_CATALOG['efficientat-mn04'];
      const all = [...LABELS, 'yamnet:Glass', 'ced-tiny:Glass'];
      // The companion glass reads all three models; its alarm reads the tagger's context alone.
      const companionGroups = {
        glass_break: {
          labels: ['Glass', 'yamnet:Glass', 'ced-tiny:Glass'],
          threshold: 0.5,
          combine: 'max' as const,
        },
        alarm: { labels: ['Alarm'], threshold: 0.5, context: true },
      };
      // A companion's "score" for a window is its input's first value / 100.
      const yamnet = jest.fn(async (windows: readonly CompanionInput[]) =>
        windows.map((w) => Float32Array.of(w.yamnetPatch![0]! / 100)),
      );
      const ced = jest.fn(async (windows: readonly CompanionInput[]) =>
        windows.map((w) => Float32Array.of(w.pcm16k![0]! / 100)),
      );
      const labelGroups = {
        glass_break: { labels: ['Glass'], threshold: 0.5 },
        alarm: { labels: ['Alarm'], threshold: 0.5, context: true },
      };
      const loaded = {
        manifest: {
          ...base,
          features: { ...base.features!, contextSec: 2 },
          labelGroups,
          companion: { models: ['yamnet', 'ced-tiny'], labelGroups: companionGroups },
        },
        labels: LABELS,
        precision: 'fp32',
        tagger: { classify } as unknown as AudioTagger,
        mapper: new LabelGroupMapper(LABELS, labelGroups),
        companion: {
          name: 'yamnet+ced-tiny',
          models: [
            { name: 'yamnet', hears: (w) => w.yamnetPatch !== undefined, classify: yamnet },
            { name: 'ced-tiny', hears: (w) => w.pcm16k !== undefined, classify: ced },
          ],
          mapper: new LabelGroupMapper(all, companionGroups),
        },
      } satisfies LoadedAudioModel;
      return { classifier: new TaggerClassifier(loaded), classify, yamnet, ced };
    }
    const heard = (yamnetCode: number, cedSample = 0) => ({
      ...patch(100),
      context: patch(200),
      yamnetPatch: Int8Array.of(yamnetCode),
      pcm16k: Int16Array.of(cedSample),
    });

    it("decides a window they heard on every model's scores, in one call per model and batch", async () => {
      const { classifier, yamnet, ced } = withCompanions();
      const scores = await classifier.score([heard(70), heard(5), heard(5, 80)]);
      expect(yamnet).toHaveBeenCalledTimes(1);
      expect(ced).toHaveBeenCalledTimes(1);
      expect(scores.map((s) => s.map((c) => [c.cls, c.score]))).toEqual([
        [
          ['glass_break', expect.closeTo(0.7, 6)], // YAMNet's 0.7 over the tagger's 0.1
          ['alarm', expect.closeTo(0.2, 6)],
        ],
        [
          ['glass_break', expect.closeTo(0.1, 6)],
          ['alarm', expect.closeTo(0.2, 6)],
        ],
        [
          ['glass_break', expect.closeTo(0.8, 6)], // CED's, in its own place among the labels
          ['alarm', expect.closeTo(0.2, 6)],
        ],
      ]);
    });

    it('builds no context where the companion groups in effect read none', () => {
      const { classifier } = withCompanions();
      expect(classifier.context()).toBeDefined(); // its alarm reads the context
      const loaded = (classifier as unknown as { model: LoadedAudioModel }).model;
      const windowOnly = { glass_break: { labels: ['Glass'], threshold: 0.5 } };
      const without = new TaggerClassifier({
        ...loaded,
        manifest: {
          ...loaded.manifest,
          companion: { models: ['yamnet', 'ced-tiny'], labelGroups: windowOnly },
        },
      });
      // The tagger's own alarm still reads one, but decides only where a companion is missing.
      expect(without.context()).toBeUndefined();
    });

    it('decides a window cut without every companion input (an older spectrogram stage) on the tagger alone', async () => {
      const { classifier, yamnet, ced } = withCompanions();
      const yamnetOnly = { ...patch(100), context: patch(200), yamnetPatch: Int8Array.of(90) };
      const scores = await classifier.score([yamnetOnly, heard(90)]);
      expect(yamnet.mock.calls[0]![0]).toHaveLength(1);
      expect(ced.mock.calls[0]![0]).toHaveLength(1);
      expect(scores.map((s) => s[0]!.score)).toEqual([
        expect.closeTo(0.1, 6),
        expect.closeTo(0.9, 6),
      ]);
    });
  });
});
