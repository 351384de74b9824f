import { DecimatedTail, HalfbandDecimator } from './waveform.cut';

function sine(hz: number, rate: number, samples: number, amplitude = 0.5): Float32Array {
  return Float32Array.from(
    { length: samples },
    (_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / rate),
  );
}

function rms(x: Int16Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += (x[i] / 32767) ** 2;
  return Math.sqrt(sum / (to - from));
}

describe('HalfbandDecimator', () => {
  const decimator = new HalfbandDecimator();

  it('keeps a tone under the new Nyquist frequency: same level, same phase', () => {
    const input = sine(1000, 32000, 32000);
    const out = decimator.decimate(input, 0, 16000);
    const expected = sine(1000, 16000, 16000);
    // Away from the edges, where the filter reads silence outside the signal.
    for (let k = 100; k < 15900; k++) expect(out[k] / 32767).toBeCloseTo(expected[k], 2);
  });

  it('stops what would fold back onto the band CED reads (above 9 kHz: over 50 dB down)', () => {
    for (const hz of [9500, 11000, 14000]) {
      const out = decimator.decimate(sine(hz, 32000, 32000), 0, 16000);
      expect(20 * Math.log10(rms(out, 100, 15900) / (0.5 / Math.SQRT2))).toBeLessThan(-50);
    }
  });

  it('reads outside the array as silence and centres output k on input start + 2k', () => {
    const impulse = new Float32Array(101);
    impulse[50] = 1;
    const out = decimator.decimate(impulse, -20, 60);
    // The impulse response's peak lands on the output centred on sample 50.
    const peak = out.indexOf(Math.max(...out));
    expect(-20 + 2 * peak).toBe(50);
    expect(out.reduce((a, b) => a + b, 0) / 32767).toBeCloseTo(0.5, 2);
  });

  it('refuses a tap count that is no half-band filter', () => {
    expect(() => new HalfbandDecimator(64)).toThrow(/4k \+ 3 taps/);
  });
});

describe('DecimatedTail', () => {
  it('cuts what the decimator would, decimating only the samples the last cut did not hold', () => {
    const decimator = new HalfbandDecimator();
    const spy = jest.spyOn(decimator, 'decimate');
    const tail = new DecimatedTail(decimator);
    const pcm = sine(700, 32000, 96000);
    const cuts = [
      [2100, 32000],
      [8000, 32000],
      [16000, 32000],
      [20000, 16000], // a stream's last, shorter window ends before the one before it
    ];
    for (const [start, count] of cuts) {
      const out = tail.cut(pcm.subarray(4000), 4000, start!, count!);
      expect(
        Buffer.from(out.buffer).equals(
          Buffer.from(new HalfbandDecimator().decimate(pcm, 2 * start!, count!).buffer),
        ),
      ).toBe(true);
    }
    expect(spy.mock.calls.map((c) => c[2])).toEqual([32000, 5900, 8000, 0]);
  });
});
