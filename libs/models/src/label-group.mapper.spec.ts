import { combine, LabelGroupMapper } from './label-group.mapper';
import type { LabelDecision } from './model.manifest';
import { logit, sigmoid } from './sigmoid';

const labels = ['Speech', 'Glass', 'Shatter', 'Chink, clink', 'Dog', 'Bark'];

describe('combine', () => {
  it('max, noisy-or and capped sum', () => {
    expect(combine('max', [0.2, 0.5])).toBe(0.5);
    expect(combine('noisy-or', [0.2, 0.5])).toBeCloseTo(1 - 0.8 * 0.5);
    expect(combine('sum', [0.2, 0.5])).toBeCloseTo(0.7);
    expect(combine('sum', [0.7, 0.6])).toBe(1);
    expect(combine('max', [])).toBe(0);
    expect(combine('noisy-or', [])).toBe(0);
  });
});

describe('LabelGroupMapper', () => {
  const mapper = new LabelGroupMapper(labels, {
    glass_break: {
      labels: ['Glass', 'Shatter', 'Chink, clink'],
      threshold: 0.3,
      combine: 'noisy-or',
    },
    dog_bark: { labels: ['Dog', 'Bark'], threshold: 0.5 },
  });

  it('scores every class with its rule and names the labels that carried weight, best first', () => {
    const scores = mapper.score([0.9, 0.2, 0.01, 0.25, 0.4, 0.1]);
    expect(scores).toEqual([
      {
        cls: 'glass_break',
        score: expect.closeTo(1 - 0.8 * 0.99 * 0.75, 6),
        threshold: 0.3,
        labels: ['Chink, clink', 'Glass'],
      },
      { cls: 'dog_bark', score: expect.closeTo(0.4, 6), threshold: 0.5, labels: ['Dog'] },
    ]);
  });

  it('detects only the classes at or above their threshold, best first', () => {
    expect(mapper.detect([0.9, 0.2, 0.01, 0.25, 0.4, 0.1])).toEqual([
      {
        modality: 'audio',
        cls: 'glass_break',
        score: expect.closeTo(0.406, 6),
        labels: ['Chink, clink', 'Glass'],
      },
    ]);
    expect(mapper.detect([0.9, 0, 0, 0, 0.7, 0.5])).toEqual([
      {
        modality: 'audio',
        cls: 'dog_bark',
        score: expect.closeTo(0.7, 6),
        labels: ['Dog', 'Bark'],
      },
    ]);
    expect(mapper.detect(new Float32Array(labels.length))).toEqual([]);
  });

  it('scores a context class on the context scores, and on the window when there are none', () => {
    const withContext = new LabelGroupMapper(labels, {
      glass_break: { labels: ['Glass'], threshold: 0.3 },
      dog_bark: { labels: ['Dog', 'Bark'], threshold: 0.5, context: true },
    });
    const window = [0, 0.6, 0, 0, 0.2, 0];
    const context = [0, 0.1, 0, 0, 0.8, 0];
    expect(withContext.score(window, context).map((s) => [s.cls, s.score])).toEqual([
      ['glass_break', expect.closeTo(0.6, 6)],
      ['dog_bark', expect.closeTo(0.8, 6)],
    ]);
    expect(withContext.score(window).map((s) => s.score)).toEqual([
      expect.closeTo(0.6, 6),
      expect.closeTo(0.2, 6),
    ]);
    expect(() => withContext.score(window, [0.1])).toThrow('expected 6 scores, got 1');
  });

  it('names a group label missing from the model', () => {
    expect(
      () => new LabelGroupMapper(labels, { siren: { labels: ['Sirens'], threshold: 0.5 } }),
    ).toThrow('labelGroups.siren: label "Sirens" is not in the model\'s labels');
  });

  it('rejects a score vector of the wrong length', () => {
    expect(() => mapper.detect([0.1])).toThrow('expected 6 scores, got 1');
  });

  it('scores a group with a learned head when the manifest has one', () => {
    const mapper = new LabelGroupMapper(['Glass', 'Chink, clink', 'Music'], {
      glass_break: {
        labels: ['Glass', 'Chink, clink'],
        threshold: 0.5,
        head: { weights: [1, -1], bias: 0 },
      },
    });
    // logit(0.9) - logit(0.1) = 4.39: sigmoid 0.988; the other way round, 0.012.
    expect(mapper.score([0.9, 0.1, 0.5])[0].score).toBeCloseTo(0.988, 3);
    expect(mapper.detect([0.1, 0.9, 0.5])).toEqual([]);
  });

  /** dog_bark decided by a pair of one-label decisions: Dog, and Bark. */
  const pair = (rule: 'anyOf' | 'allOf', dog: LabelDecision, bark: LabelDecision) =>
    new LabelGroupMapper(labels, {
      dog_bark: { labels: ['Dog', 'Bark'], threshold: 0.5, [rule]: [dog, bark] },
    });

  it('decides an anyOf group by the member furthest over its own threshold', () => {
    const either = pair(
      'anyOf',
      { labels: ['Dog'], threshold: 0.8 },
      { labels: ['Bark'], threshold: 0.2, context: true },
    );
    // Dog 0.6 is under its 0.8; Bark 0.3 on the context is over its 0.2 by logit(0.3) - logit(0.2).
    const [dog] = either.score([0, 0, 0, 0, 0.6, 0.01], [0, 0, 0, 0, 0.6, 0.3]);
    expect(dog!.score).toBeCloseTo(sigmoid(logit(0.3) - logit(0.2)));
    expect(dog!.labels).toEqual(['Bark']);
    expect(either.detect([0, 0, 0, 0, 0.6, 0.01], [0, 0, 0, 0, 0.6, 0.3])).toHaveLength(1);
    // Neither member over its threshold: under the group's.
    expect(either.detect([0, 0, 0, 0, 0.7, 0.01], [0, 0, 0, 0, 0.7, 0.1])).toEqual([]);
  });

  it('decides an allOf group by the member least over its own threshold', () => {
    const both = pair(
      'allOf',
      { labels: ['Dog'], threshold: 0.5 },
      { labels: ['Bark'], threshold: 0.2 },
    );
    expect(both.detect([0, 0, 0, 0, 0.9, 0.1])).toEqual([]);
    const [dog] = both.detect([0, 0, 0, 0, 0.9, 0.3]);
    expect(dog!.score).toBeCloseTo(sigmoid(logit(0.3) - logit(0.2)));
    expect(dog!.labels).toEqual(['Dog', 'Bark']);
  });
});
