/**
 * Interleaved 8-bit pixels (HWC) → planar float32 (CHW) times `scale`, into `out`, which the
 * caller reuses across frames: a 416² frame is 2 MB of floats, too much to allocate 25 times a
 * second. `swapRedBlue` turns rgb24 into the model's bgr order (or back) in the same pass.
 */
export function hwcToChw(
  pixels: Uint8Array,
  width: number,
  height: number,
  scale: number,
  out: Float32Array,
  swapRedBlue = false,
): Float32Array {
  const n = width * height;
  if (pixels.length !== n * 3) {
    throw new Error(`expected ${width}x${height}x3 = ${n * 3} bytes, got ${pixels.length}`);
  }
  if (out.length < n * 3)
    throw new Error(`output buffer holds ${out.length} values, needs ${n * 3}`);
  const first = swapRedBlue ? 2 * n : 0;
  const third = swapRedBlue ? 0 : 2 * n;
  if (scale === 1) {
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      out[first + i] = pixels[j]!;
      out[n + i] = pixels[j + 1]!;
      out[third + i] = pixels[j + 2]!;
    }
  } else {
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      out[first + i] = pixels[j]! * scale;
      out[n + i] = pixels[j + 1]! * scale;
      out[third + i] = pixels[j + 2]! * scale;
    }
  }
  return out;
}
