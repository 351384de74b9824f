/**
 * The recent part of a stream's raw PCM, addressed by absolute sample index, for features
 * computed from audio after the frames that needed it (YAMNet's patch once its window is cut).
 * The owner says what it no longer needs; nothing else bounds it.
 */
export class PcmTail {
  private buf = new Float32Array(1 << 16);
  /** Absolute index of buf[0]. */
  private start: number;
  private count = 0;

  constructor(startSample = 0) {
    this.start = startSample;
  }

  /** Absolute index of the sample after the last one appended. */
  get end(): number {
    return this.start + this.count;
  }

  append(samples: Float32Array): void {
    if (this.count + samples.length > this.buf.length) {
      let capacity = this.buf.length;
      while (capacity < (this.count + samples.length) * 2) capacity *= 2;
      const grown = new Float32Array(capacity);
      grown.set(this.buf.subarray(0, this.count));
      this.buf = grown;
    }
    this.buf.set(samples, this.count);
    this.count += samples.length;
  }

  /** Forgets every sample before absolute index `sample`. */
  dropBefore(sample: number): void {
    const drop = Math.min(this.count, sample - this.start);
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.count);
    this.count -= drop;
    this.start += drop;
  }

  /**
   * What is held, and the absolute index of its first sample: callers index it relative to
   * `offset` and read anything outside it as silence. Valid until the next append.
   */
  view(): { pcm: Float32Array; offset: number } {
    return { pcm: this.buf.subarray(0, this.count), offset: this.start };
  }
}
