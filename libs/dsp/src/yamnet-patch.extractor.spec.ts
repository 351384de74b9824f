import { YamnetFrameCache, YamnetPatchExtractor, tfMelMatrix } from './yamnet-patch.extractor';
import { YAMNET_RECIPE, YAMNET_RECIPE_16K, patchSamples } from './yamnet.recipe';

/** A sum of tones under 7 kHz, the same signal sampled at `rate`. */
function tones(rate: number, seconds: number): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  const parts = [
    [440, 0.3],
    [1250, 0.1],
    [3100, 0.05],
    [6400, 0.02],
  ];
  for (let n = 0; n < out.length; n++) {
    const t = n / rate;
    out[n] = parts.reduce((sum, [f, a]) => sum + a * Math.sin(2 * Math.PI * f * t + f), 0);
  }
  return out;
}

describe('YamnetPatchExtractor', () => {
  it('reads 0.975 s a patch at either rate', () => {
    expect(patchSamples(YAMNET_RECIPE_16K)).toBe(15600);
    expect(patchSamples(YAMNET_RECIPE)).toBe(31200);
  });

  it("puts the 32 kHz recipe's bands on the 16 kHz recipe's bins, none above 8 kHz", () => {
    const at16 = tfMelMatrix(YAMNET_RECIPE_16K);
    const at32 = tfMelMatrix(YAMNET_RECIPE);
    const bins16 = at16.length / 64;
    expect(bins16).toBe(257);
    for (let i = 0; i < at16.length; i++) expect(at32[i]).toBeCloseTo(at16[i], 12);
    expect(at32.subarray(at16.length).every((w) => w === 0)).toBe(true);
    expect(at16.subarray(0, 64).every((w) => w === 0)).toBe(true); // DC
  });

  it('gives a tone its own band', () => {
    const rate = YAMNET_RECIPE.sampleRate;
    const pcm = new Float32Array(patchSamples(YAMNET_RECIPE));
    for (let n = 0; n < pcm.length; n++) pcm[n] = 0.5 * Math.sin((2 * Math.PI * 1000 * n) / rate);
    const patch = new YamnetPatchExtractor(YAMNET_RECIPE).extract(pcm, 0);
    const frame = Array.from(patch.subarray(40 * 64, 41 * 64));
    const band = frame.indexOf(Math.max(...frame));
    // Band b peaks at mel(125 Hz) + (b + 1) · step: 1 kHz sits between bands 19 and 20.
    expect([19, 20]).toContain(band);
  });

  it('hears the same band-limited audio alike at 32 kHz and at 16 kHz', () => {
    const a = new YamnetPatchExtractor(YAMNET_RECIPE).extract(tones(32000, 1), 0);
    const b = new YamnetPatchExtractor(YAMNET_RECIPE_16K).extract(tones(16000, 1), 0);
    let far = 0;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > 1) far++;
    expect(far / a.length).toBeLessThan(0.01);
  });

  it('reads silence, and samples outside the audio, as the bottom code', () => {
    const extractor = new YamnetPatchExtractor(YAMNET_RECIPE);
    const loud = tones(32000, 1);
    expect(extractor.extract(new Float32Array(40000), 0).every((q) => q === -128)).toBe(true);
    expect(extractor.extract(loud, -patchSamples(YAMNET_RECIPE)).every((q) => q === -128)).toBe(
      true,
    );
    expect(extractor.extract(loud, loud.length).every((q) => q === -128)).toBe(true);
  });

  it("reuses a stream's overlapping frames: the same codes, each frame computed once", () => {
    const extractor = new YamnetPatchExtractor(YAMNET_RECIPE);
    const reference = new YamnetPatchExtractor(YAMNET_RECIPE);
    const pcm = tones(32000, 4);
    const cache = new YamnetFrameCache();
    const analyse = jest.spyOn(extractor as unknown as { analyse: () => void }, 'analyse');
    // A patch every 0.5 s, as windows come; the stream's audio arrives as views from `origin`.
    for (let k = 0; k < 5; k++) {
      const start = 240 + k * 16000;
      const origin = k * 16000;
      const cached = extractor.extract(pcm.subarray(origin), start - origin, cache, origin);
      const fresh = reference.extract(pcm, start);
      expect(Buffer.from(cached.buffer).equals(Buffer.from(fresh.buffer))).toBe(true);
    }
    // 96 frames, then 50 new ones a patch (the next patch starts 50 hops later).
    expect(analyse).toHaveBeenCalledTimes(96 + 4 * 50);
    expect(cache.frames.size).toBe(96);
  });
});
