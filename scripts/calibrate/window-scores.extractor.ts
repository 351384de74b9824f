import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryBus } from '@app/bus';
import { type AudioFeatureWindow, Topics } from '@app/contracts';
import type { EvalItem } from '@app/evaluation';
import type { WindowScores } from '@app/evaluation';
import type { MediaDecoder } from '@app/media';
import type { LoadedAudioModel } from '@app/models';
import { IngestStage, type IngestStageOptions, SpectrogramStage } from '@app/pipeline';

const GROUP = 'vigil-calibration';

/**
 * Every label's score on every window the deployed pipeline would classify: the same ingest
 * (ffmpeg), the same streaming log-mel and window assembler, the same tagger. Cached per file
 * and model, so sweeping decisions never decodes twice.
 */
export class WindowScoresExtractor {
  constructor(
    private readonly decoder: MediaDecoder,
    private readonly model: LoadedAudioModel,
    /** Ingest as the pipeline configures it (video is left undecoded here). */
    private readonly ingestOptions: IngestStageOptions,
    private readonly cacheDir: string,
  ) {
    mkdirSync(cacheDir, { recursive: true });
  }

  async extract(item: EvalItem): Promise<WindowScores> {
    const cached = this.cachePath(item.path);
    if (existsSync(cached)) return decode(readFileSync(cached));
    const scores = await this.run(item.path);
    writeFileSync(cached, encode(scores));
    return scores;
  }

  private async run(path: string): Promise<WindowScores> {
    const { manifest } = this.model;
    const features = manifest.features!;
    const bus = new MemoryBus();
    const ingest = new IngestStage(bus, this.decoder, this.ingestOptions);
    const spectrogram = new SpectrogramStage(bus, {
      recipe: features.recipe,
      windowSec: features.windowSec,
      hopSec: features.hopSec,
    });
    const windows: AudioFeatureWindow[] = [];
    await bus.subscribe(Topics.features, GROUP, async ({ value }) => {
      if (!value.final) windows.push(value);
    });
    await spectrogram.start();
    try {
      const result = await ingest.run({ streamId: 'calibration', source: path, video: false });
      await bus.idle();
      const atSec = windows.map((w) => w.peakSec);
      const labels = this.model.labels.length;
      const scores = new Float32Array(windows.length * labels);
      for (let i = 0; i < windows.length; i += 16) {
        const batch = await this.model.tagger.classify(windows.slice(i, i + 16));
        batch.forEach((s, k) => scores.set(s, (i + k) * labels));
      }
      return { audioSec: result.summary.audioSec, atSec, labels, scores };
    } finally {
      await spectrogram.stop();
      await bus.close();
    }
  }

  private cachePath(path: string): string {
    const { size, mtimeMs } = statSync(path);
    const key = createHash('sha256')
      .update(`${this.model.manifest.sha256}\0${path}\0${size}\0${mtimeMs}`)
      .digest('hex')
      .slice(0, 24);
    return join(this.cacheDir, `${key}.bin`);
  }
}

function encode(s: WindowScores): Buffer {
  const header = Buffer.from(
    JSON.stringify({ audioSec: s.audioSec, atSec: s.atSec, labels: s.labels }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  return Buffer.concat([
    length,
    header,
    Buffer.from(s.scores.buffer, s.scores.byteOffset, s.scores.byteLength),
  ]);
}

function decode(buffer: Buffer): WindowScores {
  const length = buffer.readUInt32LE(0);
  const header = JSON.parse(buffer.subarray(4, 4 + length).toString()) as Omit<
    WindowScores,
    'scores'
  >;
  const body = buffer.subarray(4 + length);
  const scores = new Float32Array(body.byteLength / 4);
  Buffer.from(scores.buffer).set(body);
  return { ...header, scores };
}
