import { kaldiMelMatrix, kaldiMelScale, kaldiSparseMelBank } from './kaldi.melbank';
import { EFFICIENTAT_RECIPE } from './logmel.recipe';

const spec = EFFICIENTAT_RECIPE;
const BINS = spec.nFft / 2 + 1; // 513

/** torchaudio.compliance.kaldi.get_mel_banks, transcribed line by line, then EfficientAT's pad. */
function torchaudioMelBanks(
  numBins: number,
  paddedWindow: number,
  sampleFreq: number,
  low: number,
  high: number,
) {
  const numFftBins = paddedWindow / 2;
  const fftBinWidth = sampleFreq / paddedWindow;
  const melLow = 1127.0 * Math.log(1.0 + low / 700.0);
  const melHigh = 1127.0 * Math.log(1.0 + high / 700.0);
  const melFreqDelta = (melHigh - melLow) / (numBins + 1);
  const rows: number[][] = [];
  for (let bin = 0; bin < numBins; bin++) {
    const leftMel = melLow + bin * melFreqDelta;
    const centerMel = melLow + (bin + 1.0) * melFreqDelta;
    const rightMel = melLow + (bin + 2.0) * melFreqDelta;
    const row: number[] = [];
    for (let i = 0; i < numFftBins; i++) {
      const mel = 1127.0 * Math.log(1.0 + (fftBinWidth * i) / 700.0);
      const upSlope = (mel - leftMel) / (centerMel - leftMel);
      const downSlope = (rightMel - mel) / (rightMel - centerMel);
      row.push(Math.max(0, Math.min(upSlope, downSlope)));
    }
    row.push(0); // torch.nn.functional.pad(mel_basis, (0, 1))
    rows.push(row);
  }
  return rows;
}

describe('kaldiMelScale', () => {
  it('is 1127·ln(1 + f/700)', () => {
    expect(kaldiMelScale(0)).toBe(0);
    expect(kaldiMelScale(700)).toBeCloseTo(1127 * Math.LN2, 12);
  });
});

describe('kaldiMelMatrix (EfficientAT: 128 bins, 0-15000 Hz, n_fft 1024, 32 kHz)', () => {
  const dense = kaldiMelMatrix(spec);

  it('equals torchaudio get_mel_banks padded with a zero Nyquist column', () => {
    const expected = torchaudioMelBanks(128, 1024, 32000, 0, 15000);
    expect(dense.length).toBe(128 * BINS);
    let worst = 0;
    for (let m = 0; m < 128; m++) {
      for (let k = 0; k < BINS; k++)
        worst = Math.max(worst, Math.abs(dense[m * BINS + k] - expected[m][k]));
    }
    expect(worst).toBe(0);
  });

  it('gives bin 512 and every bin at or above 15 kHz zero weight', () => {
    for (let m = 0; m < 128; m++) {
      for (let k = 480; k < BINS; k++) expect(dense[m * BINS + k]).toBe(0);
    }
  });

  it('has unit-sum weights between the first and last filter centres (adjacent triangles)', () => {
    const delta = kaldiMelScale(15000) / 129;
    for (let k = 0; k < 480; k++) {
      const mel = kaldiMelScale(k * 31.25);
      if (mel < delta || mel > 128 * delta) continue;
      let sum = 0;
      for (let m = 0; m < 128; m++) sum += dense[m * BINS + k];
      expect(sum).toBeCloseTo(1, 12);
    }
  });

  it('peaks each filter near its centre frequency', () => {
    const delta = kaldiMelScale(15000) / 129;
    for (const m of [10, 64, 127]) {
      const centreHz = 700 * (Math.exp(((m + 1) * delta) / 1127) - 1);
      let best = 0;
      for (let k = 1; k < BINS; k++) if (dense[m * BINS + k] > dense[m * BINS + best]) best = k;
      expect(Math.abs(best * 31.25 - centreHz)).toBeLessThanOrEqual(31.25);
    }
  });

  it('rejects impossible frequency ranges', () => {
    expect(() => kaldiMelMatrix({ ...spec, fMax: 17000 })).toThrow(RangeError);
    expect(() => kaldiMelMatrix({ ...spec, fMin: 15000 })).toThrow(RangeError);
  });

  it('reads fMax <= 0 as an offset from Nyquist, as Kaldi does', () => {
    expect(Array.from(kaldiMelMatrix({ ...spec, fMax: -1000 }))).toEqual(Array.from(dense));
  });
});

describe('kaldiSparseMelBank', () => {
  const dense = kaldiMelMatrix(spec);
  const bank = kaldiSparseMelBank(spec);

  it('stores each filter as a start bin and a contiguous run of weights that rebuilds the matrix', () => {
    const rebuilt = new Float64Array(128 * BINS);
    for (let m = 0; m < 128; m++) {
      for (let i = 0; i < bank.length[m]; i++) {
        rebuilt[m * BINS + bank.start[m] + i] = bank.weights[bank.offset[m] + i];
      }
    }
    expect(Array.from(rebuilt)).toEqual(Array.from(dense));
  });

  it('is about 14x smaller than the dense matrix and reads only bins below 480', () => {
    expect(bank.weights.length).toBeLessThan(1000);
    expect(bank.usedBins).toBe(480);
    expect(bank.spectrumBins).toBe(513);
  });
});
