/** A classifier window as the stages carry it: mel-major [melBins x frames], placed in time. */
export interface PlacedWindow {
  startSec: number;
  frames: number;
  data: Float32Array;
}

export interface WindowContext {
  frames: number;
  /** Mel-major [melBins x frames], like the window it extends. */
  data: Float32Array;
}

export interface WindowContextOptions {
  melBins: number;
  /** Seconds per log-mel frame (hopLength / sampleRate): places a window's frames. */
  frameSec: number;
  /** Longest context returned, in frames. */
  contextFrames: number;
}

/**
 * One stream's longer audio context: each window extended back by the frames of the windows
 * before it, up to `contextFrames`. Windows overlap on a hop grid, so the frames a window adds
 * are only its tail; overlapping frames come from the same streaming log-mel and are equal.
 *
 * Only audio that joins the window without a gap counts: at a stream's start, after a gap or
 * when windows arrive out of order (a replay, a stream taken over mid-way), the context starts
 * over from the window itself, exactly as it does for the calibration that chose which classes
 * read it.
 */
export class WindowContextBuilder {
  private readonly melBins: number;
  private readonly frameSec: number;
  private readonly contextFrames: number;
  /** Frame-major history, frames [start, end) of the stream, at most contextFrames of them. */
  private history: Float32Array;
  private start = 0;
  private end = 0;

  constructor(options: WindowContextOptions) {
    const { melBins, contextFrames, frameSec } = options;
    if (!(Number.isInteger(melBins) && melBins > 0 && Number.isInteger(contextFrames))) {
      throw new RangeError('WindowContextBuilder: melBins and contextFrames must be integers');
    }
    if (!(contextFrames > 0 && frameSec > 0)) {
      throw new RangeError('WindowContextBuilder: contextFrames and frameSec must be > 0');
    }
    this.melBins = melBins;
    this.frameSec = frameSec;
    this.contextFrames = contextFrames;
    this.history = new Float32Array(contextFrames * melBins);
  }

  /** The window with as much of the audio before it as the context holds, in one patch. */
  extend(window: PlacedWindow): WindowContext {
    const { frames, data } = window;
    if (data.length !== frames * this.melBins) {
      throw new RangeError(
        `WindowContextBuilder: expected ${this.melBins} x ${frames} values, got ${data.length}`,
      );
    }
    const first = Math.round(window.startSec / this.frameSec);
    const last = first + frames;
    const joins = this.end > this.start && first >= this.start && first <= this.end;
    if (!joins || last < this.end) this.restart(first);
    const from = Math.max(this.end, first);
    this.append(data, frames, from - first, last - from);
    return this.snapshot();
  }

  /**
   * Whether the context still holds frames of this window. A stage that must survive a restart
   * keeps such windows uncommitted: read again, they rebuild the context.
   */
  holds(window: { startSec: number; frames: number }): boolean {
    const last = Math.round(window.startSec / this.frameSec) + window.frames - 1;
    return this.end > this.start && last >= this.start;
  }

  private restart(at: number): void {
    this.start = at;
    this.end = at;
  }

  /** Appends window columns [offset, offset + count) after the history, dropping its oldest. */
  private append(data: Float32Array, frames: number, offset: number, count: number): void {
    const mels = this.melBins;
    const held = this.end - this.start;
    const keep = Math.max(0, Math.min(held, this.contextFrames - count));
    if (keep < held) {
      this.history.copyWithin(0, (held - keep) * mels, held * mels);
      this.start = this.end - keep;
    }
    const skip = Math.max(0, count - this.contextFrames);
    for (let f = skip; f < count; f++) {
      const row = (keep + f - skip) * mels;
      const column = offset + f;
      for (let m = 0; m < mels; m++) this.history[row + m] = data[m * frames + column]!;
    }
    this.end += count;
    this.start = this.end - keep - (count - skip);
  }

  private snapshot(): WindowContext {
    const mels = this.melBins;
    const frames = this.end - this.start;
    const data = new Float32Array(mels * frames);
    for (let f = 0; f < frames; f++) {
      const row = f * mels;
      for (let m = 0; m < mels; m++) data[m * frames + f] = this.history[row + m]!;
    }
    return { frames, data };
  }
}
