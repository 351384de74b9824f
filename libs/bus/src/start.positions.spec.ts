import { StartPositions } from './start.positions';

const ends = [
  { partition: 0, offset: 5 },
  { partition: 1, offset: 0 },
  { partition: 2, offset: 9 },
];

describe('StartPositions', () => {
  it('places the assigned partitions the broker holds no position for at their end at subscribe', () => {
    const start = new StartPositions(ends);
    const committed = [
      { partition: 0, offset: 3 },
      { partition: 1, offset: -1 },
    ];
    expect(start.unplaced([0, 1, 2], committed)).toEqual([
      { partition: 1, offset: 0 },
      { partition: 2, offset: 9 },
    ]);
    expect(start.unplaced([0], committed)).toEqual([]);
  });

  it('a position on the broker always wins, whoever committed it', () => {
    const start = new StartPositions(ends);
    start.reached(2, 12);
    expect(start.unplaced([2], [{ partition: 2, offset: 10 }])).toEqual([]);
  });

  it('resumes where this subscription had reached, where the broker knows nothing', () => {
    const start = new StartPositions(ends);
    start.reached(2, 12);
    expect(start.unplaced([1, 2], [])).toEqual([
      { partition: 1, offset: 0 },
      { partition: 2, offset: 12 },
    ]);
  });

  it('leaves a partition it never saw (added after subscribe) to the consumer', () => {
    expect(new StartPositions(ends).unplaced([3], [])).toEqual([]);
  });
});
