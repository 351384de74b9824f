import type { DetectionSet } from '@app/contracts';
import { DetectionSegmenter } from './detection.segmenter';

function set(atSec: number, score?: number): DetectionSet {
  return {
    streamId: 's',
    modality: 'audio',
    seq: 0,
    startSec: atSec - 0.5,
    endSec: atSec + 0.5,
    atSec,
    model: 'm',
    detections:
      score === undefined
        ? []
        : [{ modality: 'audio', cls: 'dog_bark', score, labels: ['Bark', 'Dog'] }],
  };
}

describe('DetectionSegmenter', () => {
  it('merges close detections and splits at gaps', () => {
    const segmenter = new DetectionSegmenter(1);
    [3, 3.25, 3.5, 4].forEach((t, i) => segmenter.add(set(t, [0.4, 0.5, 0.7, 0.6][i])));
    segmenter.add(set(5));
    [6.6, 6.85].forEach((t) => segmenter.add(set(t, 0.5)));
    const segments = segmenter.segments();
    expect(segments.map((s) => [s.startSec, s.endSec, s.count])).toEqual([
      [3, 4, 4],
      [6.6, 6.85, 2],
    ]);
    expect(segments[0]).toMatchObject({ maxScore: 0.7, topLabel: 'Bark', cls: 'dog_bark' });
  });
});
