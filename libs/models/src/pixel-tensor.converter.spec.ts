import { hwcToChw } from './pixel-tensor.converter';

describe('hwcToChw', () => {
  // 2x1 picture: pixel 0 = (10, 20, 30), pixel 1 = (40, 50, 60) in byte order.
  const pixels = new Uint8Array([10, 20, 30, 40, 50, 60]);

  it('transposes interleaved bytes into planes, scaled', () => {
    expect(Array.from(hwcToChw(pixels, 2, 1, 1, new Float32Array(6)))).toEqual([
      10, 40, 20, 50, 30, 60,
    ]);
    const scaled = hwcToChw(pixels, 2, 1, 1 / 255, new Float32Array(6));
    expect(scaled[0]).toBeCloseTo(10 / 255, 6);
    expect(scaled[5]).toBeCloseTo(60 / 255, 6);
  });

  it('swaps the first and third planes for rgb input', () => {
    expect(Array.from(hwcToChw(pixels, 2, 1, 1, new Float32Array(6), true))).toEqual([
      30, 60, 20, 50, 10, 40,
    ]);
  });

  it('writes into the given buffer and checks sizes', () => {
    const out = new Float32Array(6);
    expect(hwcToChw(pixels, 2, 1, 1, out)).toBe(out);
    expect(() => hwcToChw(pixels, 3, 1, 1, new Float32Array(9))).toThrow(
      'expected 3x1x3 = 9 bytes, got 6',
    );
    expect(() => hwcToChw(pixels, 2, 1, 1, new Float32Array(5))).toThrow(
      'output buffer holds 5 values, needs 6',
    );
  });
});
