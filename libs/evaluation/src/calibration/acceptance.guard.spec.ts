import { refuseWorseThan, type AcceptanceTally } from './acceptance.guard';

describe('refuseWorseThan', () => {
  const tallies: Record<string, AcceptanceTally> = {
    loses: { hits: 1, falseDetections: 0 },
    noisy: { hits: 2, falseDetections: 1 },
    catalog: { hits: 2, falseDetections: 0 },
    better: { hits: 3, falseDetections: 0 },
    later: { hits: 0, falseDetections: 5 },
  };
  const bar = tallies.catalog;

  it('refuses from the front every candidate that loses an event or adds a false detection', () => {
    const score = jest.fn((c: string) => tallies[c]);
    const guarded = refuseWorseThan(['loses', 'noisy', 'catalog', 'later'], bar, score);
    expect(guarded.ranked).toEqual(['catalog', 'later']);
    expect(guarded.refused).toEqual([
      { candidate: 'loses', acceptance: tallies.loses },
      { candidate: 'noisy', acceptance: tallies.noisy },
    ]);
    // what ranks below the first acceptable candidate is never scored
    expect(score).toHaveBeenCalledTimes(3);
  });

  it('keeps a ranking whose best does at least as well as the bar', () => {
    expect(refuseWorseThan(['better', 'loses'], bar, (c) => tallies[c])).toEqual({
      ranked: ['better', 'loses'],
      refused: [],
    });
  });

  it('refuses all when none meets the bar', () => {
    const guarded = refuseWorseThan(['loses', 'later'], bar, (c) => tallies[c]);
    expect(guarded.ranked).toEqual([]);
    expect(guarded.refused.map((r) => r.candidate)).toEqual(['loses', 'later']);
  });
});
