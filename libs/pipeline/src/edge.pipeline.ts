import { type BusMessage, type BusObserver, MemoryBus, type Subscription } from '@app/bus';
import { type Topic, Topics } from '@app/contracts';
import type { MediaDecoder } from '@app/media';
import type { LoadedAudioModel, LoadedVideoModel } from '@app/models';
import { InferenceStage, type LiveFrameOptions } from './inference.stage';
import { IngestStage } from './ingest.stage';
import { mediaOptionsFor } from './media-options';
import { BoxDetector, TaggerClassifier } from './model.adapters';
import type { MotionGateOptions } from './motion.gate';
import type { PipelineMetrics } from './pipeline.ports';
import { SpectrogramStage } from './spectrogram.stage';
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
    const { audioModel, videoModel } = options;
    this.bus = new MemoryBus({ observer: options.busObserver });
    const features = audioModel.manifest.features!;
    const ingest = new IngestStage(
      this.bus,
      options.decoder,
      mediaOptionsFor(audioModel.manifest, videoModel.manifest, options.fps),
    );
    this.spectrogram = new SpectrogramStage(this.bus, {
      recipe: features.recipe,
      windowSec: features.windowSec,
      hopSec: features.hopSec,
    });
    this.inference = new InferenceStage(
      this.bus,
      new TaggerClassifier(audioModel),
      new BoxDetector(videoModel),
      { motion: options.motion, liveFrames: options.liveFrames, metrics: options.metrics },
    );
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
