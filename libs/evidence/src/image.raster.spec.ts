import { EvidenceErrorCode } from './evidence.error';
import { Raster } from './image.raster';

const RED = [255, 0, 0] as const;

/** Which pixels hold `colour`, as "x,y" strings. */
function where(raster: Raster, colour: readonly number[]): string[] {
  const out: string[] = [];
  for (let y = 0; y < raster.height; y++) {
    for (let x = 0; x < raster.width; x++) {
      if (raster.get(x, y).every((v, i) => v === colour[i])) out.push(`${x},${y}`);
    }
  }
  return out;
}

describe('Raster', () => {
  it('takes colours as RGB and stores them in its own channel order', () => {
    const bgr = new Raster(2, 1, 'bgr');
    bgr.set(1, 0, [10, 20, 30]);
    expect([...bgr.pixels]).toEqual([0, 0, 0, 30, 20, 10]);
    expect(bgr.get(1, 0)).toEqual([10, 20, 30]);
    const rgb = new Raster(1, 1, 'rgb');
    rgb.set(0, 0, [10, 20, 30]);
    expect([...rgb.pixels]).toEqual([10, 20, 30]);
  });

  it('clips drawing at the edges instead of throwing or wrapping to the next row', () => {
    const r = new Raster(3, 2);
    r.set(3, 0, RED);
    r.set(-1, 1, RED);
    r.fillRect({ left: 2, top: -5, right: 10, bottom: 0 }, RED);
    expect(where(r, RED)).toEqual(['2,0']);
  });

  it('strokes a rectangle inward, `thickness` pixels deep', () => {
    const r = new Raster(8, 8);
    r.strokeRect({ left: 1, top: 1, right: 6, bottom: 6 }, 2, RED);
    const inked = where(r, RED);
    expect(inked).toHaveLength(6 * 6 - 2 * 2);
    for (const inside of ['3,3', '4,4', '3,4', '4,3']) expect(inked).not.toContain(inside);
    for (const outside of ['0,0', '7,7', '0,3', '3,7']) expect(inked).not.toContain(outside);
  });

  it('crops a copy that keeps the channel order', () => {
    const r = new Raster(4, 3, 'bgr');
    r.set(2, 1, [1, 2, 3]);
    const c = r.crop({ left: 1, top: 1, right: 3, bottom: 2 });
    expect([c.width, c.height, c.order]).toEqual([3, 2, 'bgr']);
    expect(c.get(1, 0)).toEqual([1, 2, 3]);
    c.set(0, 0, RED);
    expect(r.get(1, 1)).toEqual([0, 0, 0]);
  });

  it('rejects sizes and buffers that do not agree', () => {
    expect(() => new Raster(0, 5)).toThrow(
      expect.objectContaining({ code: EvidenceErrorCode.INVALID_INPUT }),
    );
    expect(() => new Raster(2, 2, 'rgb', new Uint8Array(11))).toThrow('needs 12 bytes (got 11)');
  });
});
