/** One classifier input cut from a frame stream. */
export interface AssembledWindow {
  /** Absolute index of the window's first frame in the stream. */
  startFrame: number;
  frames: number;
  /** Mel-major [melBins x frames]: the model's [1, 1, melBins, frames] input as is. */
  data: Float32Array;
  /**
   * Absolute index of the frame with the highest summed log-mel value (first one on ties).
   * A window averages over about a second; this pins an impulsive event (a shot, a shatter)
   * to one 10 ms frame.
   */
  peakFrame: number;
}

export interface WindowAssemblerOptions {
  melBins: number;
  windowFrames: number;
  hopFrames: number;
  /**
   * Shortest trailing window worth classifying; EfficientAT accepts any width from 16 frames
   * up. A shorter remainder is dropped, unless the whole stream is that short.
   */
  minFrames?: number;
  /**
   * Absolute index of the first frame pushed, for a stream taken up mid-way: windows keep their
   * place on the stream's grid, and those starting before this frame are not emitted again.
   */
  startFrame?: number;
}

const DEFAULT_MIN_FRAMES = 16;

/**
 * Slides fixed-size classifier windows over a frame-major log-mel stream (the output of
 * StreamingLogMel), on a grid of startFrame = k·hopFrames.
 *
 * Full windows are emitted as soon as their last frame arrives. end() adds at most one
 * shorter window at the next grid position, covering frames no full window reached; it is
 * never padded, because padding would show the model silence that was never recorded.
 */
export class WindowAssembler {
  private readonly melBins: number;
  private readonly windowFrames: number;
  private readonly hopFrames: number;
  private readonly minFrames: number;
  /** Frame-major frames from `bufStart` on; earlier frames are behind every future window. */
  private buf: Float32Array;
  /** Summed log-mel of each buffered frame, computed once on arrival for peak search. */
  private energy: Float64Array;
  private bufStart = 0;
  private bufFrames = 0;
  /** Frames pushed so far. */
  private total = 0;
  private nextStart = 0;
  private emitted = 0;
  /** One past the last frame any emitted window covered. */
  private coveredTo = 0;
  private ended = false;

  constructor(opts: WindowAssemblerOptions) {
    const { melBins, windowFrames, hopFrames } = opts;
    const minFrames = opts.minFrames ?? DEFAULT_MIN_FRAMES;
    for (const [name, v] of Object.entries({ melBins, windowFrames, hopFrames, minFrames })) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new RangeError(`WindowAssembler: ${name} must be a positive integer (got ${v})`);
      }
    }
    this.melBins = melBins;
    this.windowFrames = windowFrames;
    this.hopFrames = hopFrames;
    this.minFrames = minFrames;
    const startFrame = opts.startFrame ?? 0;
    if (!Number.isInteger(startFrame) || startFrame < 0) {
      throw new RangeError(
        `WindowAssembler: startFrame must be a whole number >= 0 (got ${startFrame})`,
      );
    }
    if (startFrame > 0) {
      this.total = startFrame;
      this.bufStart = startFrame;
      this.nextStart = Math.ceil(startFrame / hopFrames) * hopFrames;
      // What a stream read from its start would have emitted by now: it decides end()'s window.
      this.emitted = this.nextStart / hopFrames;
      this.coveredTo = this.nextStart > 0 ? this.nextStart - hopFrames + windowFrames : 0;
    }
    const cap = 2 * (windowFrames + hopFrames);
    this.buf = new Float32Array(cap * melBins);
    this.energy = new Float64Array(cap);
  }

  /** Absolute index of the first frame of the next window: no earlier frame is needed any more. */
  get nextWindowStart(): number {
    return this.nextStart;
  }

  push(frames: Float32Array): AssembledWindow[] {
    if (this.ended) throw new Error('WindowAssembler has ended; create a new one for a new stream');
    if (frames.length % this.melBins !== 0) {
      throw new RangeError(
        `WindowAssembler: got ${frames.length} values, not a whole number of ${this.melBins}-bin frames`,
      );
    }
    this.append(frames);
    const out: AssembledWindow[] = [];
    while (this.nextStart + this.windowFrames <= this.total) {
      out.push(this.cut(this.nextStart, this.windowFrames));
      this.nextStart += this.hopFrames;
    }
    return out;
  }

  end(): AssembledWindow[] {
    if (this.ended) throw new Error('WindowAssembler has ended; create a new one for a new stream');
    this.ended = true;
    const start = this.nextStart;
    const frames = this.total - start;
    const uncovered = this.total > this.coveredTo;
    const onlyWindow = this.emitted === 0;
    if (frames <= 0 || !uncovered || (frames < this.minFrames && !onlyWindow)) return [];
    return [this.cut(start, frames)];
  }

  private append(frames: Float32Array): void {
    const mels = this.melBins;
    const n = frames.length / mels;
    if (n === 0) return; // an empty push (a chunk shorter than a hop) must not reset the buffer
    // Frames before the next window start (hop > window leaves gaps) are never read.
    const skip = Math.min(n, Math.max(0, this.nextStart - this.total));
    this.total += n;
    if (skip === n) {
      this.bufStart = this.total;
      this.bufFrames = 0;
      return;
    }
    this.compact();
    const keep = n - skip;
    this.ensureCapacity(this.bufFrames + keep);
    if (this.bufFrames === 0) this.bufStart = this.total - keep;
    this.buf.set(frames.subarray(skip * mels), this.bufFrames * mels);
    for (let f = 0; f < keep; f++) {
      let sum = 0;
      const base = (this.bufFrames + f) * mels;
      for (let m = 0; m < mels; m++) sum += this.buf[base + m];
      this.energy[this.bufFrames + f] = sum;
    }
    this.bufFrames += keep;
  }

  /** Forgets frames that lie before the next window start. */
  private compact(): void {
    const drop = Math.min(this.bufFrames, this.nextStart - this.bufStart);
    if (drop <= 0) return;
    const mels = this.melBins;
    this.buf.copyWithin(0, drop * mels, this.bufFrames * mels);
    this.energy.copyWithin(0, drop, this.bufFrames);
    this.bufFrames -= drop;
    this.bufStart += drop;
  }

  private ensureCapacity(frames: number): void {
    if (frames <= this.energy.length) return;
    let cap = this.energy.length;
    while (cap < frames) cap *= 2;
    const buf = new Float32Array(cap * this.melBins);
    buf.set(this.buf.subarray(0, this.bufFrames * this.melBins));
    const energy = new Float64Array(cap);
    energy.set(this.energy.subarray(0, this.bufFrames));
    this.buf = buf;
    this.energy = energy;
  }

  private cut(start: number, frames: number): AssembledWindow {
    const mels = this.melBins;
    const first = start - this.bufStart;
    const data = new Float32Array(mels * frames);
    let peak = 0;
    let peakEnergy = -Infinity;
    for (let f = 0; f < frames; f++) {
      const src = (first + f) * mels;
      for (let m = 0; m < mels; m++) data[m * frames + f] = this.buf[src + m];
      const e = this.energy[first + f];
      if (e > peakEnergy) {
        peakEnergy = e;
        peak = f;
      }
    }
    this.emitted++;
    this.coveredTo = Math.max(this.coveredTo, start + frames);
    return { startFrame: start, frames, data, peakFrame: start + peak };
  }
}
