import { EvidenceError, EvidenceErrorCode } from './evidence.error';

/** Byte order of the three channels in memory: frames arrive as bgr24, renderings are rgb24. */
export type ChannelOrder = 'rgb' | 'bgr';

/** A colour always given as red, green, blue, whatever the raster's memory order. */
export type Rgb = readonly [number, number, number];

/** Inclusive pixel rectangle. */
export interface PixelRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * A packed 8-bit, 3-channel picture to draw on. Drawing clips at the edges instead of throwing,
 * because boxes and labels routinely reach past the frame and a partial box is still evidence.
 */
export class Raster {
  readonly pixels: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly order: ChannelOrder = 'rgb',
    pixels?: Uint8Array,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `a raster needs a positive integer size (got ${width}x${height})`,
      );
    }
    const bytes = width * height * 3;
    if (pixels && pixels.length !== bytes) {
      throw new EvidenceError(
        EvidenceErrorCode.INVALID_INPUT,
        `a ${width}x${height} raster needs ${bytes} bytes (got ${pixels.length})`,
      );
    }
    this.pixels = pixels ?? new Uint8Array(bytes);
  }

  get(x: number, y: number): Rgb {
    const i = (y * this.width + x) * 3;
    const p = this.pixels;
    return this.order === 'rgb' ? [p[i], p[i + 1], p[i + 2]] : [p[i + 2], p[i + 1], p[i]];
  }

  set(x: number, y: number, [r, g, b]: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    const p = this.pixels;
    if (this.order === 'rgb') {
      p[i] = r;
      p[i + 1] = g;
      p[i + 2] = b;
    } else {
      p[i] = b;
      p[i + 1] = g;
      p[i + 2] = r;
    }
  }

  fill(colour: Rgb): void {
    this.fillRect({ left: 0, top: 0, right: this.width - 1, bottom: this.height - 1 }, colour);
  }

  fillRect(rect: PixelRect, colour: Rgb): void {
    const left = Math.max(0, Math.round(rect.left));
    const top = Math.max(0, Math.round(rect.top));
    const right = Math.min(this.width - 1, Math.round(rect.right));
    const bottom = Math.min(this.height - 1, Math.round(rect.bottom));
    for (let y = top; y <= bottom; y++) {
      for (let x = left; x <= right; x++) this.set(x, y, colour);
    }
  }

  /** Outline drawn inward from `rect`, so the box never covers what lies just outside it. */
  strokeRect(rect: PixelRect, thickness: number, colour: Rgb): void {
    const { left, top, right, bottom } = rect;
    const t = Math.max(1, Math.round(thickness)) - 1;
    this.fillRect({ left, top, right, bottom: Math.min(bottom, top + t) }, colour);
    this.fillRect({ left, top: Math.max(top, bottom - t), right, bottom }, colour);
    this.fillRect({ left, top, right: Math.min(right, left + t), bottom }, colour);
    this.fillRect({ left: Math.max(left, right - t), top, right, bottom }, colour);
  }

  /** A copy of the pixels inside `rect` (clipped to the raster), in the same channel order. */
  crop(rect: PixelRect): Raster {
    const left = Math.max(0, rect.left);
    const top = Math.max(0, rect.top);
    const right = Math.min(this.width - 1, rect.right);
    const bottom = Math.min(this.height - 1, rect.bottom);
    const out = new Raster(right - left + 1, bottom - top + 1, this.order);
    const rowBytes = out.width * 3;
    for (let y = 0; y < out.height; y++) {
      const from = ((top + y) * this.width + left) * 3;
      out.pixels.set(this.pixels.subarray(from, from + rowBytes), y * rowBytes);
    }
    return out;
  }
}
