import type { Bus, BusMessage, Release, Subscription } from '@app/bus';
import { type AudioChunk, type AudioFeatureWindow, Topics } from '@app/contracts';
import {
  type AssembledWindow,
  DecimatedTail,
  HalfbandDecimator,
  type LogMelRecipe,
  PcmTail,
  StreamingLogMel,
  WindowAssembler,
  YamnetFrameCache,
  YamnetPatchExtractor,
  type YamnetRecipe,
  type WaveformCut,
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
  /**
   * Also cut the audio ending with each window at half the stream's rate, when a companion that
   * holds its own front end (CED-Tiny) runs beside the tagger.
   */
  waveform?: WaveformCut;
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
  /** Absolute index of the first sample this replica had of the stream. */
  firstSample: number;
  /** Raw audio from where the next window's YAMNet patch or waveform starts, when cut. */
  pcm?: PcmTail;
  /** 16 kHz audio the next window's cut shares with the last. */
  decimated?: DecimatedTail;
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
  private readonly decimator?: HalfbandDecimator;
  /** Raw samples in a window's waveform cut. */
  private readonly waveformSamples: number = 0;
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
    if (options.waveform) {
      if (2 * options.waveform.sampleRate !== options.recipe.sampleRate) {
        throw new Error(
          `a waveform is cut at half the tagger's ${options.recipe.sampleRate} Hz, not at ${options.waveform.sampleRate} Hz`,
        );
      }
      this.decimator = new HalfbandDecimator();
      this.waveformSamples = Math.round(options.waveform.seconds * options.recipe.sampleRate);
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
    const next = state.windows.nextWindowStart;
    state.pcm?.dropBefore(this.rawAudioFrom(next));
    // Only now that its windows are out may a chunk behind every future window be committed:
    // behind its frames, and behind the raw audio its YAMNet patch or waveform reads, which
    // reach back before the window.
    const needed = Math.min(
      state.logMel.resumeSampleFor(next),
      state.pcm ? this.rawAudioFrom(next) : Infinity,
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
    // Taken up mid-stream, this replica's first windows may read raw audio from before the first
    // held chunk: those are windows the replica before it published, since it held the audio
    // every window it had yet to cut would read.
    if (
      state.firstSample > 0 &&
      this.rawStart(window.startFrame, window.frames) < state.firstSample
    )
      return;
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
    let pcm16k: Int16Array | undefined;
    if (this.decimator && state.pcm) {
      const { pcm, offset } = state.pcm.view();
      const end = (window.startFrame + window.frames) * this.options.recipe.hopLength;
      pcm16k = state.decimated!.cut(
        pcm,
        offset,
        (end - this.waveformSamples) / 2,
        this.waveformSamples / 2,
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
        ...(pcm16k ? { pcm16k } : {}),
      },
      headers,
    );
  }

  /**
   * First raw sample of the YAMNet patch centred on a window (the tagger's frame t is centred
   * on sample t·hop), so both models hear the same second.
   */
  private patchStart(startFrame: number, frames: number): number {
    const centre = (startFrame + (frames - 1) / 2) * this.options.recipe.hopLength;
    return Math.round(centre - this.yamnet!.samples / 2);
  }

  /**
   * The first raw sample a window still to come may read for its YAMNet patch or waveform. A
   * window of one frame, the shortest the stream's end can cut, reaches furthest back.
   */
  private rawAudioFrom(nextStart: number): number {
    return this.rawStart(nextStart, 1);
  }

  /** The first raw sample a window's YAMNet patch or waveform reads (Infinity: neither is cut). */
  private rawStart(startFrame: number, frames: number): number {
    const patch = this.yamnet ? this.patchStart(startFrame, frames) : Infinity;
    const waveform = this.decimator
      ? (startFrame + frames) * this.options.recipe.hopLength -
        this.waveformSamples -
        this.decimator.reach
      : Infinity;
    return Math.min(patch, waveform);
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
      firstSample: startSample,
      held: [],
      partition,
      ...(this.yamnet || this.decimator ? { pcm: new PcmTail(startSample) } : {}),
      ...(this.yamnet ? { yamnetFrames: new YamnetFrameCache() } : {}),
      ...(this.decimator ? { decimated: new DecimatedTail(this.decimator) } : {}),
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
