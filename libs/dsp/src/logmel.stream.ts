import { FrameAnalyzer, frameAnalyzerFor } from './frame.analyzer';
import { frameCountFor, LogMelRecipe } from './logmel.recipe';

const NO_FRAMES = new Float32Array(0);

/**
 * Log-mel over audio that arrives in chunks of any size, giving exactly the frames
 * LogMelExtractor.compute would give for the concatenated audio (same code, same numbers,
 * bit-identical), but frame-major so each push can hand frames on as soon as they exist.
 *
 * A frame is emitted once every sample it reads is known. The last few frames read the
 * reflected tail, which only exists once the stream is known to be over: end() emits them.
 *
 * A stream can also be taken up mid-way (a restarted consumer reading its input again from a
 * committed position): given the absolute index of its first raw sample, it emits the frames
 * that need no earlier sample, with their absolute indices and the very same numbers.
 */
export class StreamingLogMel {
  private readonly analyzer: FrameAnalyzer;
  private readonly melBins: number;
  /** Raw PCM not yet discarded; buf[0] is absolute raw sample `bufStart`. */
  private buf: Float32Array;
  private bufStart = 0;
  private bufCount = 0;
  /** Raw samples pushed so far. */
  private total = 0;
  private next = 0;
  /**
   * Raw samples kept before the next frame's first tap. end() mirrors the tail, so the last
   * frames also read samples up to half a window before the end of the signal, which can lie
   * before the next pending frame's first tap; one window (+1 for the pre-emphasis pair) of
   * history covers that for any recipe.
   */
  private readonly history: number;
  private ended = false;

  constructor(recipe: LogMelRecipe, options: { startSample?: number } = {}) {
    this.analyzer = frameAnalyzerFor(recipe);
    this.melBins = recipe.melBins;
    this.history = recipe.winLength + 1;
    this.buf = new Float32Array(Math.max(4 * recipe.nFft, 8192));
    const startSample = options.startSample ?? 0;
    if (!Number.isInteger(startSample) || startSample < 0) {
      throw new RangeError(`startSample must be a whole number >= 0 (got ${startSample})`);
    }
    if (startSample > 0) {
      this.bufStart = startSample;
      this.total = startSample;
      // The first frame whose taps all lie at or after the first sample we will have.
      while (this.analyzer.firstTap(this.next) < startSample) this.next++;
    }
  }

  /** Absolute index of the next frame to come out (frames emitted so far, from the stream start). */
  get framesEmitted(): number {
    return this.next;
  }

  /**
   * The raw sample a stream taken up mid-way must start from for frame `frame`, and every
   * later one, end()'s reflected tail included, to come out as in the whole stream.
   */
  resumeSampleFor(frame: number): number {
    return Math.max(0, this.analyzer.firstTap(frame) - this.history);
  }

  get recipe(): LogMelRecipe {
    return this.analyzer.recipe;
  }

  push(chunk: Float32Array): Float32Array {
    this.assertOpen();
    if (chunk.length === 0) return NO_FRAMES;
    this.append(chunk);

    // Frame t is final once its taps, and the head reflection's mirror images (y[1..-first]),
    // are all inside the pre-emphasised samples we hold: len = total - 1.
    const len = this.total - 1;
    const a = this.analyzer;
    let end = this.next;
    while (Math.max(a.lastTap(end), -a.firstTap(end)) <= len - 1) end++;
    // Never run past the whole signal's frame count (only matters for very long hops).
    end = Math.min(end, frameCountFor(a.recipe, this.total));
    return this.emit(end, len);
  }

  end(): Float32Array {
    this.assertOpen();
    this.ended = true;
    const out = this.emit(frameCountFor(this.analyzer.recipe, this.total), this.total - 1);
    this.buf = NO_FRAMES;
    this.bufCount = 0;
    return out;
  }

  private assertOpen(): void {
    if (this.ended) throw new Error('StreamingLogMel has ended; create a new one for a new stream');
  }

  private emit(endFrame: number, len: number): Float32Array {
    const n = endFrame - this.next;
    if (n <= 0) return NO_FRAMES;
    const mels = this.melBins;
    const out = new Float32Array(n * mels);
    for (let i = 0; i < n; i++) {
      this.analyzer.analyse(this.buf, this.bufStart, len, this.next + i, out, i * mels, 1);
    }
    this.next = endFrame;
    return out;
  }

  private append(chunk: Float32Array): void {
    if (this.bufCount + chunk.length > this.buf.length) {
      this.discardHistory();
      const need = this.bufCount + chunk.length;
      // Keep at least half the buffer free after compacting, so each raw sample is moved
      // O(1) times on average even when the stream arrives one sample at a time.
      if (need > this.buf.length >> 1) {
        let cap = this.buf.length;
        while (cap < need * 2) cap *= 2;
        const grown = new Float32Array(cap);
        grown.set(this.buf.subarray(0, this.bufCount));
        this.buf = grown;
      }
    }
    this.buf.set(chunk, this.bufCount);
    this.bufCount += chunk.length;
    this.total += chunk.length;
  }

  /** Drops raw samples that no future frame, end()'s reflected tail included, can read. */
  private discardHistory(): void {
    // A signal no longer than one window may still be folded back and forth by the padding
    // (see reflect.padding.ts), which can reach any sample: keep all of it.
    if (this.total - 1 <= this.analyzer.recipe.winLength) return;
    const keepFrom = Math.min(this.analyzer.firstTap(this.next) - this.history, this.total);
    const drop = keepFrom - this.bufStart;
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.bufCount);
    this.bufCount -= drop;
    this.bufStart += drop;
  }
}
