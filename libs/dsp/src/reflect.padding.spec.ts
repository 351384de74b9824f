import { reflectIndex } from './reflect.padding';

describe('reflectIndex', () => {
  it('leaves indices inside the signal alone', () => {
    for (let i = 0; i < 10; i++) expect(reflectIndex(i, 10)).toBe(i);
  });

  it("mirrors about the edge samples without repeating them (torch pad_mode='reflect')", () => {
    // x = [x0..x4] padded by 3: x3 x2 x1 | x0 x1 x2 x3 x4 | x3 x2 x1
    const left = [-3, -2, -1].map((i) => reflectIndex(i, 5));
    const right = [5, 6, 7].map((i) => reflectIndex(i, 5));
    expect(left).toEqual([3, 2, 1]);
    expect(right).toEqual([3, 2, 1]);
  });

  it('keeps reflecting back and forth when the pad exceeds the signal (numpy reflect)', () => {
    // np.pad([a, b, c], 5, 'reflect') == [b a b c b | a b c | b a b c b]
    const padded = [];
    for (let i = -5; i < 8; i++) padded.push(reflectIndex(i, 3));
    expect(padded).toEqual([1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1]);
  });

  it('repeats a single sample', () => {
    expect([-3, -1, 0, 1, 4].map((i) => reflectIndex(i, 1))).toEqual([0, 0, 0, 0, 0]);
  });
});
