/**
 * Raw audio for a companion that takes a waveform and holds its own front end (CED-Tiny): the
 * `seconds` of audio ending with each classifier window, at `sampleRate`, as int16 (half the
 * bytes of floats, and the resolution the audio had at ingest).
 */
export interface WaveformCut {
  sampleRate: number;
  seconds: number;
}

/**
 * CED-Tiny hears 16 kHz. Two seconds: a sustained sound (an alarm's beeps) says more over two
 * seconds than over one, and an impulse at the window's start is still a second from the edge.
 * Measured with the calibration protocol (grouped by source): alarm 9/12 on 2 s against 7/12
 * on the window alone, scream the same either way.
 */
export const CED_WAVEFORM: WaveformCut = Object.freeze({ sampleRate: 16000, seconds: 2 });

/**
 * 2:1 decimation: a half-band low-pass (windowed sinc, Blackman window) then every other
 * sample. A half-band filter's even taps, but the centre one, are zero, so each output costs
 * about a quarter of the taps. Its transition band is centred on the new Nyquist frequency:
 * CED's mel bands stop at 8 kHz, where the response is down 6 dB and what folds back lands
 * on itself.
 */
export class HalfbandDecimator {
  /** The centre tap, and the taps at odd offsets 1, 3, 5, … from it (the others are zero). */
  private readonly centre: number;
  private readonly odd: Float64Array;
  /** Input samples each side of an output's centre that the filter reads. */
  readonly reach: number;

  constructor(taps = 63) {
    if (taps % 4 !== 3) throw new RangeError(`a half-band filter has 4k + 3 taps, not ${taps}`);
    this.reach = (taps - 1) / 2;
    const blackman = (n: number) => {
      const x = (n + this.reach) / (2 * this.reach);
      return 0.42 - 0.5 * Math.cos(2 * Math.PI * x) + 0.08 * Math.cos(4 * Math.PI * x);
    };
    const odd = Array.from({ length: (this.reach + 1) / 2 }, (_, j) => {
      const n = 2 * j + 1;
      return 0.5 * (Math.sin((Math.PI * n) / 2) / ((Math.PI * n) / 2)) * blackman(n);
    });
    // Unity gain at DC.
    const sum = 0.5 + 2 * odd.reduce((a, b) => a + b, 0);
    this.centre = 0.5 / sum;
    this.odd = Float64Array.from(odd, (t) => t / sum);
  }

  /**
   * `count` samples at half the rate; the k-th is centred on `pcm[start + 2k]`. Samples outside
   * `pcm` read as silence (the ends of a stream).
   */
  decimate(pcm: Float32Array, start: number, count: number): Int16Array {
    const out = new Int16Array(count);
    const last = pcm.length - 1;
    for (let k = 0; k < count; k++) {
      const c = start + 2 * k;
      let acc = c >= 0 && c <= last ? this.centre * pcm[c] : 0;
      for (let j = 0; j < this.odd.length; j++) {
        const d = 2 * j + 1;
        const a = c - d >= 0 && c - d <= last ? pcm[c - d] : 0;
        const b = c + d >= 0 && c + d <= last ? pcm[c + d] : 0;
        acc += this.odd[j] * (a + b);
      }
      out[k] = Math.max(-32768, Math.min(32767, Math.round(acc * 32767)));
    }
    return out;
  }
}

/**
 * One stream's decimated audio, kept from one cut to the next: consecutive windows' 2 s cuts
 * overlap by three quarters, and each output sample depends only on the raw audio around it,
 * so a sample decimated once is copied, not computed again.
 */
export class DecimatedTail {
  private values = new Int16Array(0);
  /** Half-rate index of values[0]. */
  private from = 0;

  constructor(private readonly decimator: HalfbandDecimator) {}

  /**
   * Half-rate samples [start, start + count), the k-th centred on raw sample 2(start + k);
   * `pcm[0]` is raw sample `origin`. Cuts must move forward through the stream.
   */
  cut(pcm: Float32Array, origin: number, start: number, count: number): Int16Array {
    const known = this.values.length;
    const cached = start >= this.from && start <= this.from + known;
    // The stream's last, shorter window may end before the one before it.
    const keep = cached ? Math.min(count, this.from + known - start) : 0;
    const fresh = this.decimator.decimate(
      pcm,
      2 * (start + keep) - origin,
      Math.max(0, count - keep),
    );
    const out = new Int16Array(count);
    if (keep > 0) out.set(this.values.subarray(start - this.from, start - this.from + keep));
    out.set(fresh, keep);
    // Never written to again: the next cut makes a new array.
    this.values = out;
    this.from = start;
    return out;
  }
}
