import { strictMock } from '@app/testing/strict-mock';
import { AudioTagger } from './audio-tagger.runner';
import { MODEL_CATALOG } from './model.catalog';
import type { ModelSession, TensorData } from './model-session';

const manifest = MODEL_CATALOG['efficientat-mn04']!;
const CLASSES = 3;

/** A session whose logit for class c of batch item k is the item's first value + c. */
function fakeSession() {
  const run = jest.fn(async (feeds: Record<string, TensorData>) => {
    const { data, dims } = feeds.spec!;
    const [batch, , mels, frames] = dims as [number, number, number, number];
    const logits = new Float32Array(batch * CLASSES);
    for (let k = 0; k < batch; k++) {
      for (let c = 0; c < CLASSES; c++) logits[k * CLASSES + c] = data[k * mels * frames]! + c;
    }
    return { logits: { data: logits, dims: [batch, CLASSES] } };
  });
  return { session: strictMock<ModelSession>('session', { run }), run };
}

const window = (first: number, frames: number) => {
  const data = new Float32Array(128 * frames);
  data[0] = first;
  return { data, frames };
};

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('AudioTagger', () => {
  it('runs same-length windows as one batch and returns sigmoid scores in order', async () => {
    const { session, run } = fakeSession();
    const scores = await new AudioTagger(session, manifest).classify([
      window(0, 100),
      window(1, 100),
      window(-2, 100),
    ]);
    expect(run).toHaveBeenCalledTimes(1);
    expect(run.mock.calls[0]![0].spec!.dims).toEqual([3, 1, 128, 100]);
    expect(scores.map((s) => Array.from(s))).toEqual([
      [sigmoid(0), sigmoid(1), sigmoid(2)].map(Math.fround),
      [sigmoid(1), sigmoid(2), sigmoid(3)].map(Math.fround),
      [sigmoid(-2), sigmoid(-1), sigmoid(0)].map(Math.fround),
    ]);
  });

  it('runs each window length separately and keeps the caller order', async () => {
    const { session, run } = fakeSession();
    const scores = await new AudioTagger(session, manifest).classify([
      window(0, 100),
      window(5, 37),
      window(1, 100),
    ]);
    expect(run.mock.calls.map(([feeds]) => feeds.spec!.dims)).toEqual([
      [2, 1, 128, 100],
      [1, 1, 128, 37],
    ]);
    expect(scores.map((s) => s[0])).toEqual([sigmoid(0), sigmoid(5), sigmoid(1)].map(Math.fround));
  });

  it('splits a backlog into runs of at most maxBatch windows', async () => {
    const { session, run } = fakeSession();
    const windows = Array.from({ length: 5 }, (_, i) => window(i, 10));
    const scores = await new AudioTagger(session, manifest, { maxBatch: 2 }).classify(windows);
    expect(run.mock.calls.map(([feeds]) => feeds.spec!.dims[0])).toEqual([2, 2, 1]);
    expect(scores.map((s) => s[0])).toEqual([0, 1, 2, 3, 4].map((x) => Math.fround(sigmoid(x))));
  });

  it('does nothing for no windows', async () => {
    const { session, run } = fakeSession();
    await expect(new AudioTagger(session, manifest).classify([])).resolves.toEqual([]);
    expect(run).not.toHaveBeenCalled();
  });

  it('rejects a window whose data does not match melBins x frames', async () => {
    const { session } = fakeSession();
    await expect(
      new AudioTagger(session, manifest).classify([{ data: new Float32Array(100), frames: 1 }]),
    ).rejects.toThrow('window 0: expected 128 x 1 = 128 values, got 100');
  });

  it('refuses a detector manifest', () => {
    const { session } = fakeSession();
    expect(() => new AudioTagger(session, MODEL_CATALOG['yolox-nano']!)).toThrow(
      'not an audio-tagging model',
    );
  });
});
