import { BoxLabelMapper } from './box-label.mapper';
import type { RawBox } from './raw-box';

const labels = ['person', 'bicycle', 'car', 'truck', 'cat', 'dog', 'chair'];
const box = (label: string, score: number, b: [number, number, number, number]): RawBox => ({
  label,
  labelIndex: labels.indexOf(label),
  score,
  box: b,
});

describe('BoxLabelMapper', () => {
  const mapper = new BoxLabelMapper(labels, {
    person: { labels: ['person'], threshold: 0.5 },
    vehicle: { labels: ['car', 'truck'], threshold: 0.4 },
    animal: { labels: ['cat', 'dog'], threshold: 0.3 },
  });

  it('maps labels to canonical classes, drops unmapped labels and weak boxes', () => {
    const detections = mapper.detect([
      box('chair', 0.9, [0, 0, 10, 10]),
      box('person', 0.45, [0, 0, 10, 10]),
      box('car', 0.8, [100, 100, 200, 150]),
      box('bicycle', 0.9, [300, 300, 400, 400]),
    ]);
    expect(detections).toEqual([
      { modality: 'video', cls: 'vehicle', score: 0.8, labels: ['car'], box: [100, 100, 200, 150] },
    ]);
  });

  it('merges overlapping boxes of one class (dog read as cat too) and keeps both labels', () => {
    const detections = mapper.detect([
      box('cat', 0.38, [131, 212, 322, 541]),
      box('dog', 0.83, [133, 207, 325, 542]),
      box('dog', 0.6, [500, 0, 600, 100]),
    ]);
    expect(detections).toEqual([
      {
        modality: 'video',
        cls: 'animal',
        score: 0.83,
        labels: ['dog', 'cat'],
        box: [133, 207, 325, 542],
      },
      { modality: 'video', cls: 'animal', score: 0.6, labels: ['dog'], box: [500, 0, 600, 100] },
    ]);
  });

  it('rejects unknown and doubly-grouped labels', () => {
    expect(
      () => new BoxLabelMapper(labels, { animal: { labels: ['unicorn'], threshold: 0.3 } }),
    ).toThrow('labelGroups.animal: label "unicorn" is not in the model\'s labels');
    expect(
      () =>
        new BoxLabelMapper(labels, {
          vehicle: { labels: ['car'], threshold: 0.3 },
          animal: { labels: ['car'], threshold: 0.3 },
        }),
    ).toThrow('labelGroups.animal: label "car" is already in another group');
  });
});
