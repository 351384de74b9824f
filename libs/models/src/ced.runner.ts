import type { ModelSession } from './model-session';

/**
 * Runs CED-Tiny (an audio transformer that holds its own front end: `[N, samples]` 16 kHz
 * waveform in, per-class probabilities out) on int16 waveforms of one length, several in one
 * run through its dynamic batch axis.
 */
export class CedRunner {
  constructor(
    private readonly session: ModelSession,
    private readonly names: { input: string; output: string } = {
      input: 'waveform',
      output: 'logits',
    },
    private readonly maxBatch = 16,
  ) {}

  /** One probability vector per waveform, in the order given. */
  async classify(waveforms: readonly Int16Array[]): Promise<Float32Array[]> {
    const length = waveforms[0]?.length ?? 0;
    waveforms.forEach((w, i) => {
      if (w.length !== length)
        throw new Error(`CED waveform ${i}: ${w.length} samples where the batch has ${length}`);
    });
    const results: Float32Array[] = [];
    for (let start = 0; start < waveforms.length; start += this.maxBatch) {
      results.push(...(await this.run(waveforms.slice(start, start + this.maxBatch), length)));
    }
    return results;
  }

  private async run(waveforms: readonly Int16Array[], length: number): Promise<Float32Array[]> {
    const input = new Float32Array(waveforms.length * length);
    waveforms.forEach((w, k) => {
      for (let i = 0; i < length; i++) input[k * length + i] = w[i] / 32768;
    });
    const outputs = await this.session.run({
      [this.names.input]: { data: input, dims: [waveforms.length, length] },
    });
    const scores = outputs[this.names.output];
    if (!scores || scores.data.length % waveforms.length !== 0)
      throw new Error(`CED returned no ${this.names.output} of ${waveforms.length} rows`);
    const classes = scores.data.length / waveforms.length;
    return waveforms.map((_, k) => scores.data.slice(k * classes, (k + 1) * classes));
  }
}
