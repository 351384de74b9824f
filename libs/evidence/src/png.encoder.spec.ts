import { crc32, inflateSync } from 'node:zlib';
import { Raster } from './image.raster';
import { PngEncoder } from './png.encoder';

/** The chunks of a PNG file, each CRC checked. */
function chunks(png: Uint8Array): { type: string; data: Buffer }[] {
  const bytes = Buffer.from(png);
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const out: { type: string; data: Buffer }[] = [];
  for (let at = 8; at < bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const typed = bytes.subarray(at + 4, at + 8 + length);
    expect(bytes.readUInt32BE(at + 8 + length)).toBe(crc32(typed));
    out.push({ type: typed.subarray(0, 4).toString('latin1'), data: typed.subarray(4) });
    at += 12 + length;
  }
  return out;
}

describe('PngEncoder', () => {
  it('writes IHDR (8-bit truecolour), one IDAT and IEND, with valid CRCs', async () => {
    const png = await new PngEncoder().encode(new Raster(5, 2, 'rgb'));
    const parts = chunks(png);
    expect(parts.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = parts[0]!.data;
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ...ihdr.subarray(8)]).toEqual([
      5, 2, 8, 2, 0, 0, 0,
    ]);
  });

  it('stores rows Up-filtered, in RGB order whatever the raster order', async () => {
    const raster = new Raster(2, 2, 'bgr');
    raster.pixels.set([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]);
    const idat = chunks(await new PngEncoder().encode(raster))[1]!.data;
    // Row 0 against zeros, row 1 minus row 0; each pixel's bytes swapped to R, G, B.
    expect([...inflateSync(idat)]).toEqual([2, 3, 2, 1, 6, 5, 4, 2, 10, 10, 10, 10, 10, 10]);
  });
});
