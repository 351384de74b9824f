import type { Bus, BusMessage, Release, Subscription } from '@app/bus';
import { type AudioChunk, type AudioFeatureWindow, Topics } from '@app/contracts';
import {
  type AssembledWindow,
  type LogMelRecipe,
  PcmTail,
  StreamingLogMel,
  WindowAssembler,
  YamnetFrameCache,
  YamnetPatchExtractor,
  type YamnetRecipe,
} from '@app/dsp';
import { Groups } from './pipeline.ports';

/** Further back than this a chunk is no replay: the stream started over under the same id. */
const MAX_REPLAY_SAMPLES_SEC = 30;

export interface SpectrogramStageOptions {
  recipe: LogMelRecipe;
  windowSec: number;
  hopSec: number;
  /** Also cut YAMNet's patch for each window, when a YAMNet runs beside the tagger. */
  yamnet?: YamnetRecipe;
}

interface HeldChunk {
  /** Absolute index of the sample after the chunk's last one. */
  endSample: number;
  release: Release;
}

interface StreamFeatures {
  logMel: StreamingLogMel;
  windows: WindowAssembler;
  /** Absolute index of the next sample, where the next chunk continues the stream. */
  nextSample: number;
  /** Chunks a window still to come may read, oldest first: their offsets stay uncommitted. */
  held: HeldChunk[];
  partition: number;
  /** Raw audio from the next window's YAMNet patch on, when patches are cut. */
  pcm?: PcmTail;
  /** YAMNet frames the next patch shares with the last. */
  yamnetFrames?: YamnetFrameCache;
}

/**
 * PCM chunks → log-mel classifier windows. State per stream is carried between chunks, so the
 * windows are identical however ingest cut the audio.
 *
 * A window needs up to a second of audio from several chunks, so a chunk's offset is committed
 * only once no window still to come reads it. A restarted (or rebalanced) consumer reads those
 * chunks again, takes the stream up at the first one, and cuts the very same windows on the
 * stream's own grid: a window is identified by stream and start time (and its seq is its place
 * on that grid), so any it publishes twice are exact duplicates. Audio a stream already has
 * (sent again by an ingest that resumed it) is skipped.
 */
export class SpectrogramStage {
  private readonly streams = new Map<string, StreamFeatures>();
  private readonly windowFrames: number;
  private readonly hopFrames: number;
  private readonly frameSec: number;
  private readonly yamnet?: YamnetPatchExtractor;
  private subscription?: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly options: SpectrogramStageOptions,
  ) {
    this.frameSec = options.recipe.hopLength / options.recipe.sampleRate;
    this.windowFrames = Math.round(options.windowSec / this.frameSec);
    this.hopFrames = Math.round(options.hopSec / this.frameSec);
    if (options.yamnet) {
      if (options.yamnet.sampleRate !== options.recipe.sampleRate) {
        throw new Error(
          `YAMNet's patch is cut at ${options.yamnet.sampleRate} Hz; the tagger's audio is at ${options.recipe.sampleRate} Hz`,
        );
      }
      this.yamnet = new YamnetPatchExtractor(options.yamnet);
    }
  }

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe(
      Topics.audio,
      Groups.spectrogram,
      (m) => this.onChunk(m),
      { onAssigned: (partitions) => this.keepOnly(partitions) },
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
  }

  private async onChunk(message: BusMessage<AudioChunk>): Promise<void> {
    const { value: chunk, headers } = message;
    if (chunk.final) return this.end(chunk.streamId, headers);
    if (chunk.sampleRate !== this.options.recipe.sampleRate) {
      throw new Error(
        `audio chunk of ${chunk.streamId} is at ${chunk.sampleRate} Hz; the model needs ${this.options.recipe.sampleRate} Hz`,
      );
    }
    const position = Math.round(chunk.startSec * chunk.sampleRate);
    let state = this.streams.get(chunk.streamId);
    if (state && state.nextSample - position > MAX_REPLAY_SAMPLES_SEC * chunk.sampleRate) {
      // Far behind what this stream reached: not a replay but the stream started over.
      this.forget(chunk.streamId);
      state = undefined;
    }
    // Audio this stream already has (an ingest that resumed it from a checkpoint, a partition
    // read again after a rebalance) is skipped: its windows are cut, or held, already.
    const known = state ? Math.max(0, state.nextSample - position) : 0;
    if (known >= chunk.samples.length) return;
    const samples = chunk.samples.subarray(known);
    state ??= this.open(chunk.streamId, position, message.partition);
    state.nextSample += samples.length;
    state.held.push({ endSample: state.nextSample, release: message.hold() });
    state.pcm?.append(samples);
    const windows = state.windows.push(state.logMel.push(samples));
    for (const window of windows) await this.publish(chunk.streamId, state, window, headers);
    state.pcm?.dropBefore(this.patchStart(state.windows.nextWindowStart, 1));
    // Only now that its windows are out may a chunk behind every future window be committed:
    // behind its frames, and behind its YAMNet patch, which for the stream's last, shorter
    // window reaches back before the window.
    const next = state.windows.nextWindowStart;
    const needed = Math.min(
      state.logMel.resumeSampleFor(next),
      state.pcm ? this.patchStart(next, 1) : Infinity,
    );
    while (state.held.length > 0 && state.held[0].endSample <= needed) {
      state.held.shift()!.release();
    }
  }

  private async end(streamId: string, headers: Record<string, string>): Promise<void> {
    const state = this.streams.get(streamId);
    if (state) {
      const windows = [...state.windows.push(state.logMel.end()), ...state.windows.end()];
      for (const window of windows) await this.publish(streamId, state, window, headers);
    }
    const marker: AudioFeatureWindow = {
      streamId,
      seq: state ? this.gridIndex(state.windows.nextWindowStart) : 0,
      startSec: 0,
      endSec: 0,
      melBins: this.options.recipe.melBins,
      frames: 0,
      data: new Float32Array(0),
      peakSec: 0,
      final: true,
    };
    await this.bus.publish(Topics.features, streamId, marker, headers);
    this.forget(streamId);
  }

  private async publish(
    streamId: string,
    state: StreamFeatures,
    window: AssembledWindow,
    headers: Record<string, string>,
  ): Promise<void> {
    const startSec = window.startFrame * this.frameSec;
    let yamnetPatch: Int8Array | undefined;
    if (this.yamnet && state.pcm) {
      const { pcm, offset } = state.pcm.view();
      yamnetPatch = this.yamnet.extract(
        pcm,
        this.patchStart(window.startFrame, window.frames) - offset,
        state.yamnetFrames,
        offset,
      );
    }
    await this.bus.publish(
      Topics.features,
      streamId,
      {
        streamId,
        seq: this.gridIndex(window.startFrame),
        startSec,
        endSec: startSec + window.frames * this.frameSec,
        melBins: this.options.recipe.melBins,
        frames: window.frames,
        data: window.data,
        peakSec: window.peakFrame * this.frameSec,
        ...(yamnetPatch ? { yamnetPatch } : {}),
      },
      headers,
    );
  }

  /**
   * First raw sample of the YAMNet patch centred on a window (the tagger's frame t is centred
   * on sample t·hop), so both models hear the same second. A window of one frame, the shortest
   * the stream's end can cut, reaches furthest back: what the next one may read.
   */
  private patchStart(startFrame: number, frames: number): number {
    const centre = (startFrame + (frames - 1) / 2) * this.options.recipe.hopLength;
    return Math.round(centre - this.yamnet!.samples / 2);
  }

  private gridIndex(startFrame: number): number {
    return Math.round(startFrame / this.hopFrames);
  }

  /** A stream from its first sample, or taken up mid-way at `startSample` (a chunk read again). */
  private open(streamId: string, startSample: number, partition: number): StreamFeatures {
    const logMel = new StreamingLogMel(this.options.recipe, { startSample });
    const state: StreamFeatures = {
      logMel,
      windows: new WindowAssembler({
        melBins: this.options.recipe.melBins,
        windowFrames: this.windowFrames,
        hopFrames: this.hopFrames,
        startFrame: logMel.framesEmitted,
      }),
      nextSample: startSample,
      held: [],
      partition,
      ...(this.yamnet
        ? { pcm: new PcmTail(startSample), yamnetFrames: new YamnetFrameCache() }
        : {}),
    };
    this.streams.set(streamId, state);
    return state;
  }

  private forget(streamId: string): void {
    this.streams.get(streamId)?.held.forEach((chunk) => chunk.release());
    this.streams.delete(streamId);
  }

  /** Streams of a partition that went to another replica continue there. */
  private keepOnly(partitions: readonly number[]): void {
    for (const [streamId, state] of this.streams) {
      if (!partitions.includes(state.partition)) this.streams.delete(streamId);
    }
  }
}
