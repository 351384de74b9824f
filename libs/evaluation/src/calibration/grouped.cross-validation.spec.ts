import { chooseIndex, crossValidate, type CalibrationRow } from './grouped.cross-validation';

const row = (
  source: string,
  labelled: boolean,
  tallies: [number, number, number][],
): CalibrationRow => ({
  source,
  labelled,
  audioSec: 360,
  tallies: tallies.map(([events, hits, falseDetections]) => ({ events, hits, falseDetections })),
});

describe('calibration', () => {
  it('chooses the threshold with most hits less the cost of false ones, in the middle of a plateau', () => {
    const rows = [
      row('a', true, [
        [1, 1, 2],
        [1, 1, 0],
        [1, 1, 0],
        [1, 1, 0],
        [1, 0, 0],
      ]),
      row('b', false, [
        [0, 0, 1],
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
      ]),
    ];
    expect(chooseIndex(rows, 3)).toBe(2);
  });

  it('scores each source at a threshold chosen without it', () => {
    // Source "odd" only hits at a low threshold that the others would never choose.
    const rows = [
      row('a', true, [
        [1, 1, 1],
        [1, 1, 0],
      ]),
      row('b', true, [
        [1, 1, 1],
        [1, 1, 0],
      ]),
      row('odd', true, [
        [1, 1, 0],
        [1, 0, 0],
      ]),
      row('neg', false, [
        [0, 0, 1],
        [0, 0, 0],
      ]),
    ];
    const cv = crossValidate(rows, 3);
    expect(cv.folds).toEqual([
      { source: 'a', index: 1 },
      { source: 'b', index: 1 },
      { source: 'neg', index: 1 },
      { source: 'odd', index: 1 },
    ]);
    expect(cv.heldOut).toEqual({
      events: 3,
      hits: 2,
      falseDetections: 0,
      falseOnNegatives: 0,
      negativeHours: 0.1,
    });
  });
});
