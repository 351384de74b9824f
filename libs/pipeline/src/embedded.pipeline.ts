import { type BusObserver, MemoryBus } from '@app/bus';
import {
  type DetectionSet,
  type SecurityEvent,
  type SiteDirectory,
  type StreamStatus,
  type Topic,
  Topics,
  deadLetterTopic,
  siteOfKey,
} from '@app/contracts';
import { DetectionSegmenter, type DetectionSegment, type RuleSet } from '@app/fusion';
import type { MediaDecoder } from '@app/media';
import type { LoadedAudioModel, LoadedVideoModel } from '@app/models';
import { FusionStage } from './fusion.stage';
import type { GatingStats, InferenceStage, LiveFrameOptions } from './inference.stage';
import type { IngestResult, IngestRun, IngestStage } from './ingest.stage';
import { mediaStages } from './media.stages';
import type { PipelineMetrics } from './pipeline.ports';
import type { MotionGateOptions } from './motion.gate';
import type { SpectrogramStage } from './spectrogram.stage';
import { StreamSupervisor } from './stream.supervisor';
import type { SuppressionGate } from './suppression.gate';

export interface EmbeddedPipelineOptions {
  decoder: MediaDecoder;
  audioModel: LoadedAudioModel;
  videoModel: LoadedVideoModel;
  rules: RuleSet;
  /** Named rule sets a stream may choose instead of `rules`. */
  profiles?: Readonly<Record<string, RuleSet>>;
  fps: number;
  /** Motion gating before the object detector; off when unset. */
  motion?: MotionGateOptions;
  /** Latency bound of live streams: stale live frames are dropped before the detector. */
  liveFrames?: LiveFrameOptions;
  metrics?: PipelineMetrics;
  /** Traffic of the in-memory bus (messages, handling time, lag), for /metrics. */
  busObserver?: BusObserver;
  /** Called for each incident as soon as fusion decides it. */
  onEvent?: (event: SecurityEvent) => void;
  /** Operators' per-stream suppressions (`vigil serve`'s console). */
  suppressions?: SuppressionGate;
  /** Sites and zones of cameras, for site rules; none when unset. */
  sites?: SiteDirectory;
}

export interface AnalysisResult extends IngestResult {
  streamId: string;
  events: SecurityEvent[];
  segments: DetectionSegment[];
  status: StreamStatus[];
}

/** Messages a stage could not process: the analysis is incomplete and must not look clean. */
export class PipelineError extends Error {
  constructor(readonly failures: { topic: string; reason: string }[]) {
    const first = failures[0];
    super(
      `analysis incomplete: ${failures.length} message(s) failed, first on ${first.topic}: ${first.reason}`,
    );
    this.name = 'PipelineError';
  }
}

const CLI_GROUP = 'vigil-embedded-report';

/** Called for one analysis only, as its results are decided. */
export interface AnalysisHooks {
  onEvent?: (event: SecurityEvent) => void;
  onDetections?: (set: DetectionSet) => void;
}

interface Collector {
  hooks: AnalysisHooks;
  events: SecurityEvent[];
  segments: DetectionSegmenter;
  status: StreamStatus[];
  failures: { topic: string; reason: string }[];
}

const STAGE_INPUTS: readonly Topic<unknown>[] = [
  Topics.audio,
  Topics.video,
  Topics.features,
  Topics.detections,
];

/**
 * All four stages on the in-memory bus, in one process: `vigil analyze` and `vigil serve`.
 * The stages are the very classes the microservices run on Kafka.
 */
export class EmbeddedPipeline {
  /** Open to the parts `vigil serve` adds around the stages (evidence, history, API). */
  readonly bus: MemoryBus;
  private readonly ingest: IngestStage;
  private readonly spectrogram: SpectrogramStage;
  private readonly inference: InferenceStage;
  private readonly fusion: FusionStage;
  /** Long-running streams (`vigil serve`): started, stopped and reconnected here. */
  readonly streams: StreamSupervisor;
  private readonly collectors = new Map<string, Collector>();

  constructor(private readonly options: EmbeddedPipelineOptions) {
    this.bus = new MemoryBus({ observer: options.busObserver });
    const { sites } = options;
    ({
      ingest: this.ingest,
      spectrogram: this.spectrogram,
      inference: this.inference,
    } = mediaStages(this.bus, {
      ...options,
      ...(sites ? { detectionKey: (id: string) => sites.detectionKey(id) } : {}),
    }));
    this.fusion = new FusionStage(this.bus, options.rules, {
      profiles: options.profiles,
      metrics: options.metrics,
      suppressions: options.suppressions,
      sites: options.sites,
    });
    this.streams = new StreamSupervisor(this.ingest);
  }

  /** Frames the detector saw and skipped for lack of motion, over this pipeline's life. */
  gatingStats(): GatingStats {
    return this.inference.gatingStats();
  }

  /** Live frames of a stream dropped before the detector because it was behind. */
  droppedFrames(streamId: string): number {
    return this.inference.droppedFrames(streamId);
  }

  /** Whether a stream of this id is being analysed or streamed here now. */
  isActive(streamId: string): boolean {
    return this.collectors.has(streamId) || this.streams.active().includes(streamId);
  }

  /** The rules profiles streams may choose. */
  profiles(): string[] {
    return this.fusion.profiles();
  }

  async start(): Promise<void> {
    await this.bus.subscribe(Topics.detections, CLI_GROUP, async ({ value }) => {
      const collector = this.collectors.get(value.streamId);
      collector?.segments.add(value as DetectionSet);
      collector?.hooks.onDetections?.(value);
    });
    await this.bus.subscribe(Topics.events, CLI_GROUP, async ({ value }) => {
      const collector = this.collectors.get(value.streamId);
      if (!collector) return;
      collector.events.push(value);
      this.options.onEvent?.(value);
      collector.hooks.onEvent?.(value);
    });
    await this.bus.subscribe(Topics.streamStatus, CLI_GROUP, async ({ value }) => {
      this.collectors.get(value.streamId)?.status.push(value);
    });
    for (const topic of STAGE_INPUTS) {
      await this.bus.subscribe(deadLetterTopic(topic), CLI_GROUP, async ({ key, headers }) => {
        // A site camera's detections are keyed by its site: each of its cameras' analyses hears.
        const site = siteOfKey(key);
        const streams = site ? (this.options.sites?.camerasOf(site) ?? []) : [key];
        for (const streamId of streams) {
          this.collectors.get(streamId)?.failures.push({
            topic: topic.name,
            reason: headers['x-vigil-dlq-reason'] ?? 'unknown',
          });
        }
      });
    }
    await this.fusion.start();
    await this.inference.start();
    await this.spectrogram.start();
  }

  /** Runs one source to its end; rejects with the ingest error after downstream has drained. */
  async analyze(run: IngestRun, hooks: AnalysisHooks = {}): Promise<AnalysisResult> {
    const collector: Collector = {
      hooks,
      events: [],
      segments: new DetectionSegmenter(),
      status: [],
      failures: [],
    };
    this.collectors.set(run.streamId, collector);
    const closed = this.fusion.whenClosed(run.streamId);
    try {
      const result = await this.ingest.run(run).finally(async () => {
        await closed;
        await this.bus.idle();
      });
      if (collector.failures.length > 0) throw new PipelineError(collector.failures);
      return {
        ...result,
        streamId: run.streamId,
        events: collector.events,
        segments: collector.segments.segments(),
        status: collector.status,
      };
    } finally {
      this.collectors.delete(run.streamId);
    }
  }

  async stop(): Promise<void> {
    await this.streams.stopAll();
    await this.bus.idle();
    await this.spectrogram.stop();
    await this.inference.stop();
    await this.fusion.stop();
    await this.bus.close();
  }
}
