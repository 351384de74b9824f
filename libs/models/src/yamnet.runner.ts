import type { ModelSession } from './model-session';

/** YAMNet's input grid (the headless model quantizes its float input to it first). */
export interface YamnetInputGrid {
  frames: number;
  melBins: number;
  quantScale: number;
  quantZeroPoint: number;
}

/**
 * Runs YAMNet (TF-Hub yamnet/classification without its front end: `[N, 96, 64]` log-mel in,
 * per-class probabilities out) on patches given as int8 codes, several in one run through its
 * dynamic batch axis.
 */
export class YamnetRunner {
  private readonly size: number;

  constructor(
    private readonly session: ModelSession,
    private readonly grid: YamnetInputGrid,
    private readonly names: { input: string; output: string } = {
      input: 'log_mel',
      output: 'scores',
    },
    private readonly maxBatch = 32,
  ) {
    this.size = grid.frames * grid.melBins;
  }

  /** One probability vector per patch, in the order given. */
  async classify(patches: readonly Int8Array[]): Promise<Float32Array[]> {
    patches.forEach((p, i) => {
      if (p.length !== this.size)
        throw new Error(`YAMNet patch ${i}: expected ${this.size} codes, got ${p.length}`);
    });
    const results: Float32Array[] = [];
    for (let start = 0; start < patches.length; start += this.maxBatch) {
      results.push(...(await this.run(patches.slice(start, start + this.maxBatch))));
    }
    return results;
  }

  private async run(patches: readonly Int8Array[]): Promise<Float32Array[]> {
    const { frames, melBins, quantScale, quantZeroPoint } = this.grid;
    const input = new Float32Array(patches.length * this.size);
    patches.forEach((patch, k) => {
      for (let i = 0; i < this.size; i++)
        input[k * this.size + i] = (patch[i] - quantZeroPoint) * quantScale;
    });
    const outputs = await this.session.run({
      [this.names.input]: { data: input, dims: [patches.length, frames, melBins] },
    });
    const scores = outputs[this.names.output];
    if (!scores || scores.data.length % patches.length !== 0)
      throw new Error(`YAMNet returned no ${this.names.output} of ${patches.length} rows`);
    const classes = scores.data.length / patches.length;
    return patches.map((_, k) => scores.data.slice(k * classes, (k + 1) * classes));
  }
}
