import type { ModelManifest } from './model.manifest';
import type { ModelSession } from './model-session';
import { sigmoid } from './sigmoid';

/** One classifier input: a log-mel patch, mel-major (melBins rows × frames columns). */
export interface LogMelWindow {
  data: Float32Array;
  frames: number;
}

export interface AudioTaggerOptions {
  /** Most windows per run; bounds the input tensor when a backlog arrives at once. */
  maxBatch?: number;
}

/**
 * Runs a multi-label audio tagger (EfficientAT-style: `[batch, 1, mel, frames]` in, logits out)
 * and returns per-label probabilities. Windows of equal length share one run through the
 * dynamic batch axis: per-run overhead dominates for 1 s windows.
 */
export class AudioTagger {
  private readonly melBins: number;
  private readonly maxBatch: number;

  constructor(
    private readonly session: ModelSession,
    private readonly manifest: ModelManifest,
    options: AudioTaggerOptions = {},
  ) {
    if (manifest.task !== 'audio-tagging' || !manifest.features) {
      throw new Error(`${manifest.name} is not an audio-tagging model`);
    }
    this.melBins = manifest.features.recipe.melBins;
    this.maxBatch = options.maxBatch ?? 32;
    if (!(Number.isInteger(this.maxBatch) && this.maxBatch >= 1)) {
      throw new Error(`maxBatch must be a positive integer (got ${options.maxBatch})`);
    }
  }

  get modelName(): string {
    return this.manifest.name;
  }

  /** One probability vector per window, in the order given. */
  async classify(windows: readonly LogMelWindow[]): Promise<Float32Array[]> {
    windows.forEach((w, i) => {
      if (
        !(Number.isInteger(w.frames) && w.frames > 0) ||
        w.data.length !== this.melBins * w.frames
      ) {
        throw new Error(
          `window ${i}: expected ${this.melBins} x ${w.frames} = ${this.melBins * w.frames} values, got ${w.data.length}`,
        );
      }
    });
    const results = new Array<Float32Array>(windows.length);
    const byLength = new Map<number, number[]>();
    windows.forEach((w, i) => {
      const group = byLength.get(w.frames) ?? [];
      group.push(i);
      byLength.set(w.frames, group);
    });
    for (const [frames, indices] of byLength) {
      for (let start = 0; start < indices.length; start += this.maxBatch) {
        const batch = indices.slice(start, start + this.maxBatch);
        const scores = await this.runBatch(
          batch.map((i) => windows[i]!.data),
          frames,
        );
        batch.forEach((windowIndex, k) => (results[windowIndex] = scores[k]!));
      }
    }
    return results;
  }

  private async runBatch(patches: Float32Array[], frames: number): Promise<Float32Array[]> {
    const size = this.melBins * frames;
    let input: Float32Array;
    if (patches.length === 1) {
      input = patches[0]!;
    } else {
      input = new Float32Array(patches.length * size);
      patches.forEach((patch, k) => input.set(patch, k * size));
    }
    const { input: inputSpec, output: outputSpec } = this.manifest;
    const outputs = await this.session.run({
      [inputSpec.name]: { data: input, dims: [patches.length, 1, this.melBins, frames] },
    });
    const logits = outputs[outputSpec.name];
    if (!logits)
      throw new Error(`${this.manifest.name}: model returned no output ${outputSpec.name}`);
    const classes = logits.dims[logits.dims.length - 1] ?? 0;
    if (logits.data.length !== patches.length * classes) {
      throw new Error(
        `${this.manifest.name}: output ${outputSpec.name} has dims [${logits.dims.join(', ')}], expected [${patches.length}, N]`,
      );
    }
    return patches.map((_, k) => {
      const scores = new Float32Array(classes);
      for (let c = 0; c < classes; c++) scores[c] = sigmoid(logits.data[k * classes + c]!);
      return scores;
    });
  }
}
