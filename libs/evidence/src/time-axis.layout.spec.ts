import { formatTime, layoutTimeAxis } from './time-axis.layout';

describe('layoutTimeAxis', () => {
  it('labels a 1 s window every 0.5 s with 0.1 s ticks between', () => {
    const axis = layoutTimeAxis({ fromSec: 3.565, toSec: 4.565, widthPx: 400 });
    expect(axis.stepSec).toBe(0.5);
    expect(axis.major.map((t) => t.label)).toEqual(['4.0', '4.5']);
    expect(axis.major[0].x).toBeCloseTo(174, 6);
    expect(axis.major[1].x).toBeCloseTo(374, 6);
    expect(axis.minor.map((t) => t.sec)).toEqual([3.6, 3.7, 3.8, 3.9, 4.1, 4.2, 4.3, 4.4]);
  });

  it('steps up to whole seconds with half-second ticks when 0.5 s labels would collide', () => {
    const axis = layoutTimeAxis({ fromSec: 0, toSec: 10, widthPx: 500 });
    expect(axis.stepSec).toBe(1);
    expect(axis.major.map((t) => t.label)).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ]);
    expect(axis.minor.map((t) => t.sec)).toEqual([
      0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5,
    ]);
  });

  it('uses minutes for long stretches and drops minor ticks that would crowd', () => {
    const axis = layoutTimeAxis({ fromSec: 50, toSec: 170, widthPx: 400 });
    expect(axis.stepSec).toBe(15);
    expect(axis.major.map((t) => t.label)).toEqual([
      '1:00',
      '1:15',
      '1:30',
      '1:45',
      '2:00',
      '2:15',
      '2:30',
      '2:45',
    ]);
    expect(axis.minor.length).toBeGreaterThan(0);
    const crowded = layoutTimeAxis({ fromSec: 0, toSec: 10, widthPx: 20, minLabelSpacingPx: 10 });
    expect(crowded.minor).toEqual([]);
  });

  it('gives nothing for an empty span', () => {
    expect(layoutTimeAxis({ fromSec: 1, toSec: 1, widthPx: 100 }).major).toEqual([]);
    expect(layoutTimeAxis({ fromSec: 0, toSec: 1, widthPx: 0 }).major).toEqual([]);
  });
});

describe('formatTime', () => {
  it.each([
    [4.07, 1, '4.1'],
    [4.07, 2, '4.07'],
    [59.96, 1, '1:00.0'],
    [62.5, 1, '1:02.5'],
    [3725, 0, '1:02:05'],
    [-0.5, 1, '-0.5'],
  ])('%p with %p decimals → %p', (sec, decimals, text) => {
    expect(formatTime(sec, decimals)).toBe(text);
  });
});
