import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type AudioChunk, Topics } from '@app/contracts';
import {
  type AssembledWindow,
  type LogMelRecipe,
  StreamingLogMel,
  WindowAssembler,
} from '@app/dsp';
import { Groups } from './pipeline.ports';

export interface SpectrogramStageOptions {
  recipe: LogMelRecipe;
  windowSec: number;
  hopSec: number;
}

interface StreamFeatures {
  logMel: StreamingLogMel;
  windows: WindowAssembler;
  seq: number;
  /**
   * Stream time of the first chunk this replica saw. Zero normally; later when a stream moved
   * here mid-way (rebalance, restart), so windows keep their true stream times.
   */
  originSec: number;
}

/**
 * PCM chunks → log-mel classifier windows. State per stream is carried between chunks, so the
 * windows are identical however ingest cut the audio.
 */
export class SpectrogramStage {
  private readonly streams = new Map<string, StreamFeatures>();
  private readonly windowFrames: number;
  private readonly hopFrames: number;
  private readonly frameSec: number;
  private subscription?: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly options: SpectrogramStageOptions,
  ) {
    this.frameSec = options.recipe.hopLength / options.recipe.sampleRate;
    this.windowFrames = Math.round(options.windowSec / this.frameSec);
    this.hopFrames = Math.round(options.hopSec / this.frameSec);
  }

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe(Topics.audio, Groups.spectrogram, (m) =>
      this.onChunk(m),
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
  }

  private async onChunk({ value: chunk, headers }: BusMessage<AudioChunk>): Promise<void> {
    const state = this.stateOf(chunk.streamId, chunk.startSec);
    if (!chunk.final && chunk.sampleRate !== this.options.recipe.sampleRate) {
      throw new Error(
        `audio chunk of ${chunk.streamId} is at ${chunk.sampleRate} Hz; the model needs ${this.options.recipe.sampleRate} Hz`,
      );
    }
    const windows = chunk.final
      ? [...state.windows.push(state.logMel.end()), ...state.windows.end()]
      : state.windows.push(state.logMel.push(chunk.samples));
    for (const window of windows) await this.publish(chunk.streamId, state, window, headers);
    if (chunk.final) {
      this.streams.delete(chunk.streamId);
      await this.bus.publish(
        Topics.features,
        chunk.streamId,
        {
          streamId: chunk.streamId,
          seq: state.seq,
          startSec: 0,
          endSec: 0,
          melBins: this.options.recipe.melBins,
          frames: 0,
          data: new Float32Array(0),
          peakSec: 0,
          final: true,
        },
        headers,
      );
    }
  }

  private async publish(
    streamId: string,
    state: StreamFeatures,
    window: AssembledWindow,
    headers: Record<string, string>,
  ): Promise<void> {
    const startSec = state.originSec + window.startFrame * this.frameSec;
    await this.bus.publish(
      Topics.features,
      streamId,
      {
        streamId,
        seq: state.seq++,
        startSec,
        endSec: startSec + window.frames * this.frameSec,
        melBins: this.options.recipe.melBins,
        frames: window.frames,
        data: window.data,
        peakSec: state.originSec + window.peakFrame * this.frameSec,
      },
      headers,
    );
  }

  private stateOf(streamId: string, startSec: number): StreamFeatures {
    let state = this.streams.get(streamId);
    if (!state) {
      state = {
        logMel: new StreamingLogMel(this.options.recipe),
        windows: new WindowAssembler({
          melBins: this.options.recipe.melBins,
          windowFrames: this.windowFrames,
          hopFrames: this.hopFrames,
        }),
        seq: 0,
        originSec: startSec,
      };
      this.streams.set(streamId, state);
    }
    return state;
  }
}
