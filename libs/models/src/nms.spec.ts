import { classAwareNms, iou } from './nms';
import type { RawBox } from './raw-box';

const box = (labelIndex: number, score: number, b: [number, number, number, number]): RawBox => ({
  label: `l${labelIndex}`,
  labelIndex,
  score,
  box: b,
});

describe('iou', () => {
  it('is intersection over union, 0 for disjoint or touching boxes', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150);
    expect(iou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(iou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(iou([0, 0, 0, 0], [0, 0, 0, 0])).toBe(0);
  });
});

describe('classAwareNms', () => {
  it('keeps the best of overlapping boxes of one label, best first', () => {
    const kept = classAwareNms(
      [box(0, 0.6, [1, 1, 11, 11]), box(0, 0.9, [0, 0, 10, 10]), box(0, 0.7, [50, 50, 60, 60])],
      0.45,
    );
    expect(kept.map((b) => b.score)).toEqual([0.9, 0.7]);
  });

  it('never suppresses across labels', () => {
    const kept = classAwareNms([box(0, 0.9, [0, 0, 10, 10]), box(1, 0.5, [0, 0, 10, 10])], 0.45);
    expect(kept.map((b) => b.labelIndex)).toEqual([0, 1]);
  });

  it('keeps boxes that overlap exactly at the threshold', () => {
    // IoU of these two is exactly 1/3.
    const kept = classAwareNms([box(0, 0.9, [0, 0, 10, 10]), box(0, 0.8, [5, 0, 15, 10])], 1 / 3);
    expect(kept).toHaveLength(2);
  });
});
