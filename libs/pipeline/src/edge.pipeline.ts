import { type BusMessage, type BusObserver, MemoryBus, type Subscription } from '@app/bus';
import { type Topic, Topics } from '@app/contracts';
import { EvidenceCollector, EvidenceWriter } from '@app/evidence';
import type { RuleSet } from '@app/fusion';
import { type EdgeEvidenceObserver, EdgeEvidenceSender } from './edge-evidence.sender';
import { EvidenceTap } from './evidence.tap';
import { FusionStage } from './fusion.stage';
import type { InferenceStage } from './inference.stage';
import { type MediaStagesOptions, mediaStages } from './media.stages';
import type { SpectrogramStage } from './spectrogram.stage';
import { StreamSupervisor } from './stream.supervisor';

/** The media stages' options (detectionKey: a site camera's detections go up under its site). */
export interface EdgePipelineOptions extends MediaStagesOptions {
  busObserver?: BusObserver;
  /** Incidents' evidence made here and sent upstream; none when unset. */
  evidence?: EdgeEvidenceOptions;
}

export interface EdgeEvidenceOptions {
  /** The rules central fusion decides this edge's streams with (its default rules). */
  rules: RuleSet;
  /** Media kept for evidence across all streams, in bytes (the tap's budget). */
  bufferBytes: number;
  /** ffmpeg, which encodes the snapshot and the spectrogram. */
  ffmpegBinary: string;
  observer?: EdgeEvidenceObserver;
  logger?: { warn(message: string): void };
}

/**
 * What an edge sends upstream: the detections, how its streams are doing, and its incidents'
 * evidence (rendered here: the media themselves stay).
 */
export const EDGE_UPLINK_TOPICS: readonly Topic<unknown>[] = [
  Topics.detections,
  Topics.streamStatus,
  Topics.edgeEvidence,
];

const UPLINK_GROUP = 'vigil-edge-uplink';

/**
 * The stages an edge node runs beside its cameras, on the in-memory bus: ingest, spectrogram
 * and inference, the very classes of the microservices. Fusion stays central: what leaves is
 * handed to `forward` (the spool), never the audio or the frames. With `evidence`, the edge
 * also keeps its streams' recent media (the EvidenceTap, bounded as central fusion's) and runs
 * the central rules (a FusionStage with no idle verdicts and no checkpoints: it publishes
 * nothing but local incident versions) only to know which versions central fusion will decide;
 * their evidence is rendered here and sent upstream behind the detections that made them.
 */
export class EdgePipeline {
  readonly bus: MemoryBus;
  readonly streams: StreamSupervisor;
  private readonly spectrogram: SpectrogramStage;
  private readonly inference: InferenceStage;
  private readonly subscriptions: Subscription[] = [];
  private readonly evidence?: {
    tap: EvidenceTap;
    fusion: FusionStage;
    sender: EdgeEvidenceSender;
  };

  constructor(options: EdgePipelineOptions) {
    this.bus = new MemoryBus({ observer: options.busObserver });
    const { ingest, spectrogram, inference } = mediaStages(this.bus, options);
    this.spectrogram = spectrogram;
    this.inference = inference;
    this.streams = new StreamSupervisor(ingest);
    if (options.evidence) {
      const { rules, bufferBytes, ffmpegBinary, observer, logger } = options.evidence;
      const tap = new EvidenceTap(this.bus, { maxBytes: bufferBytes });
      const artifacts = new EvidenceCollector();
      this.evidence = {
        tap,
        fusion: new FusionStage(this.bus, rules),
        sender: new EdgeEvidenceSender({
          bus: this.bus,
          tap,
          writer: EvidenceWriter.withFfmpeg(artifacts, { binary: ffmpegBinary }),
          artifacts,
          ...(observer ? { observer } : {}),
          ...(logger ? { logger } : {}),
        }),
      };
    }
  }

  /** Media bytes the evidence tap holds (0 without evidence). */
  get evidenceBufferedBytes(): number {
    return this.evidence?.tap.bufferedBytes ?? 0;
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
    // Before media flows: the tap must see every frame a version may need.
    if (this.evidence) {
      await this.evidence.tap.start();
      await this.evidence.sender.start();
      await this.evidence.fusion.start();
    }
    await this.inference.start();
    await this.spectrogram.start();
  }

  async stop(): Promise<void> {
    await this.streams.stopAll();
    await this.bus.idle();
    await this.spectrogram.stop();
    await this.inference.stop();
    if (this.evidence) {
      // The last versions' evidence is sent before the uplink subscriptions close.
      await this.evidence.fusion.stop();
      await this.bus.idle();
      await this.evidence.sender.stop();
      await this.evidence.tap.stop();
    }
    await Promise.all(this.subscriptions.map((s) => s.close()));
    await this.bus.close();
  }
}
