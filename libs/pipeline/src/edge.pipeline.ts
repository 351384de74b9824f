import { type BusMessage, type BusObserver, MemoryBus, type Subscription } from '@app/bus';
import { type Topic, Topics } from '@app/contracts';
import type { MediaDecoder } from '@app/media';
import type { LoadedAudioModel, LoadedVideoModel } from '@app/models';
import type { InferenceStage, LiveFrameOptions } from './inference.stage';
import { mediaStages } from './media.stages';
import type { MotionGateOptions } from './motion.gate';
import type { PipelineMetrics } from './pipeline.ports';
import type { SpectrogramStage } from './spectrogram.stage';
import { StreamSupervisor } from './stream.supervisor';

export interface EdgePipelineOptions {
  decoder: MediaDecoder;
  audioModel: LoadedAudioModel;
  videoModel: LoadedVideoModel;
  fps: number;
  motion?: MotionGateOptions;
  liveFrames?: LiveFrameOptions;
  metrics?: PipelineMetrics;
  busObserver?: BusObserver;
}

/** What an edge sends upstream: the detections and how its streams are doing. */
export const EDGE_UPLINK_TOPICS: readonly Topic<unknown>[] = [
  Topics.detections,
  Topics.streamStatus,
];

const UPLINK_GROUP = 'vigil-edge-uplink';

/**
 * The stages an edge node runs beside its cameras, on the in-memory bus: ingest, spectrogram
 * and inference, the very classes of the microservices. Fusion stays central: what leaves is
 * handed to `forward` (the spool), never the audio or the frames.
 */
export class EdgePipeline {
  readonly bus: MemoryBus;
  readonly streams: StreamSupervisor;
  private readonly spectrogram: SpectrogramStage;
  private readonly inference: InferenceStage;
  private readonly subscriptions: Subscription[] = [];

  constructor(options: EdgePipelineOptions) {
    this.bus = new MemoryBus({ observer: options.busObserver });
    const { ingest, spectrogram, inference } = mediaStages(this.bus, options);
    this.spectrogram = spectrogram;
    this.inference = inference;
    this.streams = new StreamSupervisor(ingest);
  }

  /**
   * Starts the stages, with every message of the uplink topics handed to `forward` in order;
   * a message is done with (its offset committed) once `forward` resolved, so it must have
   * made the message durable by then.
   */
  async start(forward: (message: BusMessage<unknown>) => Promise<void>): Promise<void> {
    for (const topic of EDGE_UPLINK_TOPICS) {
      this.subscriptions.push(await this.bus.subscribe(topic, UPLINK_GROUP, forward));
    }
    await this.inference.start();
    await this.spectrogram.start();
  }

  async stop(): Promise<void> {
    await this.streams.stopAll();
    await this.bus.idle();
    await this.spectrogram.stop();
    await this.inference.stop();
    await Promise.all(this.subscriptions.map((s) => s.close()));
    await this.bus.close();
  }
}
