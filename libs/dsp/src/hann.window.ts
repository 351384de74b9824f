/**
 * Symmetric Hann window (torch.hann_window(n, periodic=false)), zero-padded and centred in
 * nFft the way torch.stft pads a window shorter than n_fft.
 */
export interface CentredWindow {
  /** Only the winLength non-padded taps: the zeros around them never need multiplying. */
  taps: Float64Array;
  /** Offset of taps[0] inside the nFft frame, floor((nFft - winLength) / 2) as torch does. */
  left: number;
}

export function symmetricHann(length: number): Float64Array {
  const w = new Float64Array(length);
  // torch special-cases a single tap to 1; the general formula would divide by zero.
  if (length === 1) {
    w[0] = 1;
    return w;
  }
  const step = (2 * Math.PI) / (length - 1);
  for (let n = 0; n < length; n++) w[n] = 0.5 - 0.5 * Math.cos(step * n);
  return w;
}

export function centredHann(winLength: number, nFft: number): CentredWindow {
  return { taps: symmetricHann(winLength), left: (nFft - winLength) >> 1 };
}
