import { StartPositions } from './start.positions';

const ends = [
  { partition: 0, offset: 5 },
  { partition: 1, offset: 0 },
  { partition: 2, offset: 9 },
];

describe('StartPositions', () => {
  it('holds the end of every partition the group has no committed position on', () => {
    const start = new StartPositions(
      ends,
      [
        { partition: 0, offset: 3 },
        { partition: 1, offset: -1 },
      ],
      true,
    );
    expect(start.onAssigned([0, 1, 2])).toEqual([
      { partition: 1, offset: 0 },
      { partition: 2, offset: 9 },
    ]);
    expect(start.onAssigned([0])).toEqual([]);
  });

  it('lets go of a partition once the broker holds a position for it', () => {
    const start = new StartPositions(ends, [], true);
    start.committed([{ partition: 2, offset: 9 }]);
    expect(start.onAssigned([1, 2])).toEqual([{ partition: 1, offset: 0 }]);
  });

  it('a committing group rejoins at its start, not past what it handled but did not commit', () => {
    const start = new StartPositions(ends, [], true);
    start.handled(2, 9);
    expect(start.onAssigned([2])).toEqual([{ partition: 2, offset: 9 }]);
  });

  it('a view that never commits rejoins after what it read', () => {
    const start = new StartPositions(ends, [], false);
    start.handled(2, 9);
    start.handled(2, 10);
    expect(start.onAssigned([0, 2])).toEqual([
      { partition: 0, offset: 5 },
      { partition: 2, offset: 11 },
    ]);
  });
});
