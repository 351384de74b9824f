import { crc32, deflate } from 'node:zlib';
import type { Raster } from './image.raster';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const BIT_DEPTH = 8;
const COLOUR_TRUECOLOUR = 2;
/** PNG's "Up" filter: each byte minus the one above; spectrograms and axes compress well with it. */
const FILTER_UP = 2;

/**
 * An 8-bit RGB PNG made in this process: a spectrogram per incident cost an ffmpeg spawn on the
 * event loop (tens of ms on a busy host, the largest single cost of evidence under load), where
 * PNG is only a deflate stream that zlib compresses on libuv's thread pool.
 */
export class PngEncoder {
  async encode(raster: Raster): Promise<Uint8Array> {
    const { width, height } = raster;
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([BIT_DEPTH, COLOUR_TRUECOLOUR, 0, 0, 0], 8);
    const idat = await deflated(filteredRows(raster));
    return Buffer.concat([
      SIGNATURE,
      chunk('IHDR', ihdr),
      chunk('IDAT', idat),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

/** Each row as a filter byte and its RGB bytes, Up-filtered (the first row against zeros). */
function filteredRows(raster: Raster): Buffer {
  const { width, height, pixels, order } = raster;
  const stride = width * 3;
  const rgb = order === 'rgb' ? pixels : swapped(pixels);
  const out = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    const at = y * (stride + 1);
    out[at] = FILTER_UP;
    for (let i = 0; i < stride; i++) {
      const above = y > 0 ? rgb[row - stride + i]! : 0;
      out[at + 1 + i] = (rgb[row + i]! - above) & 0xff;
    }
  }
  return out;
}

function swapped(bgr: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(bgr.length);
  for (let i = 0; i < bgr.length; i += 3) {
    rgb[i] = bgr[i + 2]!;
    rgb[i + 1] = bgr[i + 1]!;
    rgb[i + 2] = bgr[i]!;
  }
  return rgb;
}

function deflated(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    deflate(data, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

/** Length, type, data, and the CRC of type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}
