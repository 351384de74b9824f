/**
 * Log-mel throughput on one core, in seconds of audio per CPU second.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/logmel.bench.ts
 *
 * (a) LogMelExtractor, (b) StreamingLogMel fed 3200-sample (100 ms) chunks, (c) a naive
 * implementation with a dense mel matrix and fresh arrays per frame: the shape of code the
 * sparse, allocation-free kernel replaces. (c) also cross-checks (a) and (b).
 */
import FFT from 'fft.js';
import { fixture } from '@app/testing';
import {
  EFFICIENTAT_RECIPE,
  LogMelExtractor,
  LogMelRecipe,
  StreamingLogMel,
  kaldiMelMatrix,
} from '@app/dsp';
import { readF32le } from './bench.support';

const SECONDS = 60;
const CHUNK = 3200;
const REPEATS = 5;

/** Straightforward transcription of the recipe: pad, frame, window, FFT, dense matmul. */
function naiveLogMel(
  r: LogMelRecipe,
  pcm: Float32Array,
  fft: FFT,
  mel: Float64Array,
): Float32Array {
  const y: number[] = [];
  for (let n = 0; n + 1 < pcm.length; n++) y.push(pcm[n + 1] - r.preEmphasis * pcm[n]);
  const pad = r.nFft >> 1;
  const padded: number[] = [];
  for (let i = pad; i >= 1; i--) padded.push(y[i]);
  for (const v of y) padded.push(v);
  for (let i = 1; i <= pad; i++) padded.push(y[y.length - 1 - i]);
  const win = new Array<number>(r.nFft).fill(0);
  const left = (r.nFft - r.winLength) >> 1;
  for (let n = 0; n < r.winLength; n++)
    win[left + n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (r.winLength - 1));
  const bins = (r.nFft >> 1) + 1;
  const frames = 1 + Math.floor(y.length / r.hopLength);
  const out = new Float32Array(r.melBins * frames);
  for (let t = 0; t < frames; t++) {
    const frame = new Array<number>(r.nFft);
    for (let k = 0; k < r.nFft; k++) frame[k] = padded[t * r.hopLength + k] * win[k];
    const spec = fft.createComplexArray();
    fft.realTransform(spec, frame);
    fft.completeSpectrum(spec);
    const power = new Float64Array(bins);
    for (let b = 0; b < bins; b++) power[b] = spec[2 * b] ** 2 + spec[2 * b + 1] ** 2;
    const melRow = new Float64Array(r.melBins);
    for (let m = 0; m < r.melBins; m++) {
      let acc = 0;
      for (let b = 0; b < bins; b++) acc += mel[m * bins + b] * power[b];
      melRow[m] = acc;
    }
    for (let m = 0; m < r.melBins; m++) {
      out[m * frames + t] = (Math.log(melRow[m] + r.logOffset) + r.normAdd) / r.normDiv;
    }
  }
  return out;
}

interface Result {
  audioPerCpuSecond: number;
  out: Float32Array;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Best of REPEATS after one warm-up run, so JIT tiers and GC noise do not decide the result. */
function measure(run: () => Float32Array, audioSeconds: number): Result {
  let out = run();
  let best = Infinity;
  for (let i = 0; i < REPEATS; i++) {
    const c0 = cpuSeconds();
    out = run();
    best = Math.min(best, cpuSeconds() - c0);
  }
  return { audioPerCpuSecond: audioSeconds / best, out };
}

function maxAbsDiff(
  melMajor: Float32Array,
  other: Float32Array,
  frames: number,
  otherFrameMajor: boolean,
): number {
  const mels = melMajor.length / frames;
  let worst = 0;
  for (let m = 0; m < mels; m++) {
    for (let t = 0; t < frames; t++) {
      const o = otherFrameMajor ? other[t * mels + m] : other[m * frames + t];
      worst = Math.max(worst, Math.abs(melMajor[m * frames + t] - o));
    }
  }
  return worst;
}

function main(): void {
  const r = EFFICIENTAT_RECIPE;
  const clip = readF32le(fixture('reference/metro_32k_mono.f32le'));
  const pcm = new Float32Array(SECONDS * r.sampleRate);
  for (let i = 0; i < pcm.length; i += clip.length)
    pcm.set(clip.subarray(0, Math.min(clip.length, pcm.length - i)), i);

  const extractor = new LogMelExtractor(r);
  const frames = extractor.frameCount(pcm.length);

  const a = measure(() => extractor.compute(pcm), SECONDS);

  const b = measure(() => {
    const stream = new StreamingLogMel(r);
    const out = new Float32Array(frames * r.melBins);
    let at = 0;
    for (let i = 0; i < pcm.length; i += CHUNK) {
      const f = stream.push(pcm.subarray(i, i + CHUNK));
      out.set(f, at);
      at += f.length;
    }
    out.set(stream.end(), at);
    return out;
  }, SECONDS);

  const fft = new FFT(r.nFft);
  const dense = kaldiMelMatrix(r);
  const c = measure(() => naiveLogMel(r, pcm, fft, dense), SECONDS);
  // fft.js's code is shared by all its instances: (c) feeding it plain arrays may leave it
  // less specialised for (a) and (b); measure (a) again to show whether that happened.
  const a2 = measure(() => extractor.compute(pcm), SECONDS);

  const fmt = (x: number) => x.toFixed(0).padStart(6);
  const row = (label: string, x: number) =>
    console.log(`${label.padEnd(44)}${fmt(x)} s audio / CPU s`);
  console.log(
    `log-mel front end, ${SECONDS} s of audio (metro clip looped), ${frames} frames, one core`,
  );
  console.log(
    `node ${process.version}, best of ${REPEATS} after a warm-up run, CPU time from process.cpuUsage()`,
  );
  console.log('');
  row('(a) LogMelExtractor.compute', a.audioPerCpuSecond);
  row(`(b) StreamingLogMel, ${CHUNK}-sample chunks`, b.audioPerCpuSecond);
  row('(c) naive: dense mel matrix, arrays per frame', c.audioPerCpuSecond);
  row('(a) again, after (c) has run', a2.audioPerCpuSecond);
  console.log('');
  console.log(`a/c = ${(a.audioPerCpuSecond / c.audioPerCpuSecond).toFixed(2)}x`);
  console.log(`b/c = ${(b.audioPerCpuSecond / c.audioPerCpuSecond).toFixed(2)}x`);
  console.log('');
  console.log(`max |a - b| = ${maxAbsDiff(a.out, b.out, frames, true)}`);
  console.log(
    `max |a - c| = ${maxAbsDiff(a.out, c.out, frames, false)}  (c is float64 too, with a dense matrix)`,
  );
}

main();
