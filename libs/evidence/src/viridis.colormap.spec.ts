import { VIRIDIS_ANCHORS, viridis, viridisTable } from './viridis.colormap';

const luma = ([r, g, b]: readonly number[]) => 0.299 * r + 0.587 * g + 0.114 * b;

describe('viridis', () => {
  it('runs from dark purple #440154 to yellow #fde725', () => {
    expect(viridis(0)).toEqual([0x44, 0x01, 0x54]);
    expect(viridis(1)).toEqual([0xfd, 0xe7, 0x25]);
  });

  it('clamps out-of-range input and treats NaN as the bottom of the scale', () => {
    expect(viridis(-5)).toEqual(viridis(0));
    expect(viridis(7)).toEqual(viridis(1));
    expect(viridis(NaN)).toEqual(viridis(0));
  });

  it('passes through every anchor and interpolates between them', () => {
    VIRIDIS_ANCHORS.forEach((anchor, i) => expect(viridis(i / 15)).toEqual([...anchor]));
    const a = VIRIDIS_ANCHORS[7];
    const b = VIRIDIS_ANCHORS[8];
    expect(viridis(7.5 / 15)).toEqual([0, 1, 2].map((c) => Math.round((a[c] + b[c]) / 2)));
  });

  it('gets lighter all the way up, so louder always reads brighter', () => {
    const table = viridisTable(256);
    expect(table).toHaveLength(256);
    for (let i = 1; i < table.length; i++) {
      expect(luma(table[i])).toBeGreaterThanOrEqual(luma(table[i - 1]) - 0.5);
    }
    expect(luma(table[255]) - luma(table[0])).toBeGreaterThan(150);
  });
});
