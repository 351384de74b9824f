import { scoreItems } from '../eval.scorer';
import { logitGrid, sweepItem } from './threshold.sweep';

describe('sweepItem', () => {
  const item = {
    events: [{ cls: 'gunshot' as const, start: 2, end: 2.3 }],
    atSec: [0.4, 1.1, 1.6, 2.1, 2.6, 5.2, 6.1, 9.0],
    scores: [0.01, 0.05, 0.3, 0.6, 0.2, 0.25, 0.02, 0.4],
  };

  it('replays the segmenter and the strict scorer for each threshold', () => {
    expect(sweepItem(item, [0.35, 0.2, 0.9])).toEqual([
      { events: 1, hits: 1, falseDetections: 1 }, // 2.1 hits; 9.0 is false
      { events: 1, hits: 1, falseDetections: 2 }, // 1.6–2.6 starts at 1.6 (within 1 s); 5.2 and 9.0 false
      { events: 1, hits: 0, falseDetections: 0 },
    ]);
  });

  it('agrees with the eval scorer on the same detections', () => {
    const threshold = 0.04;
    const [tally] = sweepItem(item, [threshold]);
    // The same detections as segments the way DetectionSegmenter forms them.
    const segments = [
      { cls: 'gunshot' as const, startSec: 1.1, endSec: 2.6, maxScore: 0.6 },
      { cls: 'gunshot' as const, startSec: 5.2, endSec: 5.2, maxScore: 0.25 },
      { cls: 'gunshot' as const, startSec: 9.0, endSec: 9.0, maxScore: 0.4 },
    ];
    const report = scoreItems(
      [
        {
          item: { file: 'x', path: 'x', source: 's', classes: ['gunshot'], events: item.events },
          audioSec: 10,
          segments,
          incidents: [],
        },
      ],
      { alertClasses: new Set() },
    );
    const figures = report.classes.find((c) => c.cls === 'gunshot')!;
    expect(tally).toEqual({
      events: figures.events,
      hits: figures.hits,
      falseDetections: figures.falseDetections,
    });
  });

  it('spaces thresholds evenly in logit space', () => {
    const grid = logitGrid(0.1, 0.9, 3);
    expect(grid[0]).toBeCloseTo(0.1);
    expect(grid[1]).toBeCloseTo(0.5);
    expect(grid[2]).toBeCloseTo(0.9);
  });
});
