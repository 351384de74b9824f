import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryBus } from '@app/bus';
import { type AudioFeatureWindow, Topics } from '@app/contracts';
import { WindowContextBuilder } from '@app/dsp';
import type { EvalItem } from '@app/evaluation';
import type { WindowScores } from '@app/evaluation';
import type { MediaDecoder } from '@app/media';
import type { CompanionModel, LoadedAudioModel } from '@app/models';
import {
  IngestStage,
  type IngestStageOptions,
  SpectrogramStage,
  spectrogramOptionsFor,
} from '@app/pipeline';

const GROUP = 'vigil-calibration';
/** Bumped when what a cache file holds changes. */
const CACHE_FORMAT = 2;
/** Bumped when how a companion's input is cut changes. */
const FRONT_END: Record<string, number> = { yamnet: 2, 'ced-tiny': 1 };

/** A companion calibrated beside the tagger: its scores follow the tagger's in each row. */
export interface CalibratedCompanion {
  model: CompanionModel;
  labels: number;
  sha256: string;
}

/**
 * Every label's score on every window the deployed pipeline would classify: the same ingest
 * (ffmpeg), the same streaming log-mel and window assembler, the same tagger, and on the longer
 * context of `contextSec` ending with each window, built as the inference stage builds it.
 * With companions beside the tagger, each window's row goes on with each one's scores on its
 * input for the window (YAMNet's patch centred on it, CED-Tiny's 2 s ending with it: the same
 * for the window and its context), in the order given. Cached per file, models and
 * context, so sweeping decisions never decodes twice.
 */
export class WindowScoresExtractor {
  constructor(
    private readonly decoder: MediaDecoder,
    private readonly model: LoadedAudioModel,
    /** Ingest as the pipeline configures it (video is left undecoded here). */
    private readonly ingestOptions: IngestStageOptions,
    private readonly cacheDir: string,
    private readonly contextSec: number,
    private readonly companions: readonly CalibratedCompanion[] = [],
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
    const spectrogram = new SpectrogramStage(
      bus,
      spectrogramOptionsFor(
        manifest,
        this.companions.map((c) => c.model.name),
      ),
    );
    const windows: AudioFeatureWindow[] = [];
    await bus.subscribe(Topics.features, GROUP, async ({ value }) => {
      if (!value.final) windows.push(value);
    });
    await spectrogram.start();
    try {
      const result = await ingest.run({ streamId: 'calibration', source: path, video: false });
      await bus.idle();
      const atSec = windows.map((w) => w.peakSec);
      const { recipe } = features;
      const frameSec = recipe.hopLength / recipe.sampleRate;
      const builder = new WindowContextBuilder({
        melBins: recipe.melBins,
        frameSec,
        contextFrames: Math.round(this.contextSec / frameSec),
      });
      const contexts = windows.map((w) => builder.extend(w));
      const theirs: Float32Array[][] = [];
      for (const { model } of this.companions) {
        const rows: Float32Array[] = [];
        for (let i = 0; i < windows.length; i += 16)
          rows.push(...(await model.classify(windows.slice(i, i + 16))));
        theirs.push(rows);
      }
      return {
        audioSec: result.summary.audioSec,
        atSec,
        labels: this.labelCount(),
        scores: await this.classify(windows, theirs),
        context: await this.classify(contexts, theirs),
      };
    } finally {
      await spectrogram.stop();
      await bus.close();
    }
  }

  private labelCount(): number {
    return this.companions.reduce((n, c) => n + c.labels, this.model.labels.length);
  }

  private async classify(
    windows: { data: Float32Array; frames: number }[],
    theirs: Float32Array[][],
  ) {
    const labels = this.labelCount();
    const scores = new Float32Array(windows.length * labels);
    for (let i = 0; i < windows.length; i += 16) {
      const batch = await this.model.tagger.classify(windows.slice(i, i + 16));
      batch.forEach((s, k) => scores.set(s, (i + k) * labels));
    }
    let at = this.model.labels.length;
    theirs.forEach((rows, c) => {
      rows.forEach((s, w) => scores.set(s, w * labels + at));
      at += this.companions[c]!.labels;
    });
    return scores;
  }

  private cachePath(path: string): string {
    const { size, mtimeMs } = statSync(path);
    const hash = createHash('sha256')
      .update(`${CACHE_FORMAT}\0${this.model.manifest.sha256}\0${this.contextSec}\0`)
      .update(`${path}\0${size}\0${mtimeMs}`);
    for (const { model, sha256 } of this.companions)
      hash.update(`\0${model.name} ${sha256} ${FRONT_END[model.name] ?? 0}`);
    const key = hash.digest('hex').slice(0, 24);
    return join(this.cacheDir, `${key}.bin`);
  }
}

function encode(s: WindowScores): Buffer {
  const header = Buffer.from(
    JSON.stringify({ audioSec: s.audioSec, atSec: s.atSec, labels: s.labels }),
  );
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return Buffer.concat([length, header, bytes(s.scores), bytes(s.context!)]);
}

function decode(buffer: Buffer): WindowScores {
  const length = buffer.readUInt32LE(0);
  const header = JSON.parse(buffer.subarray(4, 4 + length).toString()) as Omit<
    WindowScores,
    'scores'
  >;
  const body = buffer.subarray(4 + length);
  const all = new Float32Array(body.byteLength / 4);
  Buffer.from(all.buffer).set(body);
  const half = all.length / 2;
  return { ...header, scores: all.subarray(0, half), context: all.subarray(half) };
}
