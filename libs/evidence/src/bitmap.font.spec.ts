import { drawText, glyph, GLYPH_ADVANCE, textHeight, textWidth } from './bitmap.font';
import { Raster } from './image.raster';

const INK = [255, 255, 255] as const;

/** The raster as rows of '#' (ink) and '.', for comparing with glyph art. */
function art(raster: Raster): string[] {
  return Array.from({ length: raster.height }, (_, y) =>
    Array.from({ length: raster.width }, (_, x) => (raster.get(x, y)[0] === 255 ? '#' : '.')).join(
      '',
    ),
  );
}

describe('bitmap font', () => {
  it('has 5x7 glyphs for digits, letters and the punctuation labels use', () => {
    for (const char of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .,:-_%/()=+?') {
      const rows = glyph(char);
      expect(rows).toHaveLength(7);
      for (const row of rows) expect(row).toMatch(/^[#.]{5}$/);
    }
    expect(glyph('1')).toEqual(['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.']);
    expect(glyph('.')).toEqual(['.....', '.....', '.....', '.....', '.....', '.##..', '.##..']);
  });

  it('tells every digit apart', () => {
    const shapes = new Set('0123456789'.split('').map((d) => glyph(d).join('/')));
    expect(shapes.size).toBe(10);
  });

  it('draws lower case as upper case and unknown characters as "?"', () => {
    expect(glyph('p')).toEqual(glyph('P'));
    expect(glyph('@')).toEqual(glyph('?'));
    expect(glyph('é')).toEqual(glyph('?'));
  });

  it('measures text without the trailing blank column', () => {
    expect(textWidth('')).toBe(0);
    expect(textWidth('4')).toBe(5);
    expect(textWidth('4.5')).toBe(3 * GLYPH_ADVANCE - 1);
    expect(textWidth('4.5', 2)).toBe(2 * (3 * GLYPH_ADVANCE - 1));
    expect(textHeight(3)).toBe(21);
  });

  it('draws glyph pixels exactly, at the given corner', () => {
    const r = new Raster(13, 9);
    drawText(r, '1.', 1, 1, INK);
    const rows = art(r);
    expect(rows[0]).toBe('.............');
    for (let y = 0; y < 7; y++) {
      expect(rows[y + 1].slice(1, 6)).toBe(glyph('1')[y]);
      expect(rows[y + 1].slice(7, 12)).toBe(glyph('.')[y]);
    }
    expect(rows[8]).toBe('.............');
  });

  it('scales each font pixel to a square and clips at the raster edge', () => {
    const r = new Raster(10, 14);
    drawText(r, '7', 0, 0, INK, 2);
    expect(art(r)[0]).toBe('##########');
    expect(art(r)[1]).toBe('##########');
    expect(art(r)[2]).toBe('........##');
    const small = new Raster(3, 3);
    expect(() => drawText(small, 'WIDE TEXT', -2, -2, INK, 3)).not.toThrow();
  });
});
