import { centredHann, symmetricHann } from './hann.window';

describe('symmetricHann', () => {
  it('is torch.hann_window(periodic=False): zero at both ends, symmetric, peak 1 for odd length', () => {
    const w = symmetricHann(9);
    expect(w[0]).toBe(0);
    expect(w[8]).toBeCloseTo(0, 15);
    expect(w[4]).toBeCloseTo(1, 15);
    for (let n = 0; n < 9; n++) expect(w[n]).toBeCloseTo(w[8 - n], 15);
    expect(w[2]).toBeCloseTo(0.5, 15); // 0.5 - 0.5·cos(2π·2/8)
  });

  it('gives [1] for a single tap, as torch does', () => {
    expect(Array.from(symmetricHann(1))).toEqual([1]);
  });
});

describe('centredHann', () => {
  it('centres the 800-tap EfficientAT window in 1024 with 112 zeros each side', () => {
    const { taps, left } = centredHann(800, 1024);
    expect(taps.length).toBe(800);
    expect(left).toBe(112);
    expect(1024 - left - taps.length).toBe(112);
  });

  it('puts the odd sample on the right like torch.stft ((n_fft - win) // 2 on the left)', () => {
    expect(centredHann(5, 8).left).toBe(1);
  });
});
