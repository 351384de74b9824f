import { LineRing } from './line.ring';
import { LineSplitter } from './line.splitter';

describe('LineSplitter', () => {
  it('splits on \\n, \\r\\n and the \\r of progress lines, across chunk borders', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('a\nb')).toEqual(['a']);
    expect(splitter.push('c\r\nframe=1\rframe=2\r')).toEqual(['bc', 'frame=1', 'frame=2']);
    expect(splitter.push('tail')).toEqual([]);
    expect(splitter.flush()).toEqual(['tail']);
  });

  it('cuts a line that never ends', () => {
    const splitter = new LineSplitter(8);
    expect(splitter.push('0123456789abc')).toEqual(['01234567']);
  });
});

describe('LineRing', () => {
  it('keeps the last N lines, oldest first', () => {
    const ring = new LineRing(3);
    ['a', 'b'].forEach((l) => ring.push(l));
    expect(ring.lines()).toEqual(['a', 'b']);
    ['c', 'd', 'e'].forEach((l) => ring.push(l));
    expect(ring.lines()).toEqual(['c', 'd', 'e']);
  });
});
