import { ReplayFilter } from './replay.filter';

describe('ReplayFilter', () => {
  it('passes each stream time once, per stream, and a stream that starts over', () => {
    const filter = new ReplayFilter(10, 30);
    expect([0, 0.5, 1, 0.5, 1, 1.5].map((sec) => filter.isNew('a', sec))).toEqual([
      true,
      true,
      true,
      false,
      false,
      true,
    ]);
    expect(filter.isNew('b', 0.5)).toBe(true);
    expect(filter.isNew('a', 100)).toBe(true);
    expect(filter.isNew('a', 0)).toBe(true); // 100 s back: a new run of the stream
    filter.forget('b');
    expect(filter.isNew('b', 0.5)).toBe(true);
  });

  it('forgets the least recently seen stream beyond its bound', () => {
    const filter = new ReplayFilter(2);
    filter.isNew('a', 1);
    filter.isNew('b', 1);
    filter.isNew('a', 2);
    filter.isNew('c', 1); // b goes
    expect(filter.isNew('a', 2)).toBe(false);
    expect(filter.isNew('b', 1)).toBe(true);
  });
});
