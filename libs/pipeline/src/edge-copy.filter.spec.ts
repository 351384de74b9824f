import { EDGE_SEQ_HEADER, EdgeCopyFilter } from './edge-copy.filter';

const from = (edge: string, seq: number) => ({ [EDGE_SEQ_HEADER]: `${edge}:${seq}` });

describe('EdgeCopyFilter', () => {
  it('passes each message of an edge once, and drops the copies of a resent batch', () => {
    const filter = new EdgeCopyFilter();
    expect([1, 2, 3].map((n) => filter.isNew('cam', from('site-a', n)))).toEqual([
      true,
      true,
      true,
    ]);
    // The batch 2..4 is sent again after a lost acknowledgement: 2 and 3 are copies.
    expect([2, 3, 4].map((n) => filter.isNew('cam', from('site-a', n)))).toEqual([
      false,
      false,
      true,
    ]);
  });

  it('keeps edges and streams apart, and lets messages without an edge id through', () => {
    const filter = new EdgeCopyFilter();
    expect(filter.isNew('cam', from('site-a', 5))).toBe(true);
    expect(filter.isNew('cam', from('site-b', 1))).toBe(true);
    expect(filter.isNew('door', from('site-a', 2))).toBe(true);
    expect(filter.isNew('cam', {})).toBe(true);
    expect(filter.isNew('cam', {})).toBe(true);
    expect(filter.isNew('cam', { [EDGE_SEQ_HEADER]: 'garbled' })).toBe(true);
  });

  it('forgets the least recently seen pair beyond its bound', () => {
    const filter = new EdgeCopyFilter(2);
    filter.isNew('a', from('e', 10));
    filter.isNew('b', from('e', 11));
    filter.isNew('c', from('e', 12));
    // 'a' was forgotten: its copy passes (bounded memory over a perfect memory).
    expect(filter.isNew('a', from('e', 10))).toBe(true);
    expect(filter.isNew('c', from('e', 12))).toBe(false);
  });
});
