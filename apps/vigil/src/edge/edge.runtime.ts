import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import {
  type BusMessage,
  DiskSpool,
  KafkaBus,
  KafkaUplinkSink,
  UplinkForwarder,
  type UplinkForwarderOptions,
} from '@app/bus';
import { type Topic, codecFor } from '@app/contracts';
import { loadRuleSet } from '@app/fusion';
import type { FfmpegLocator, MediaDecoder } from '@app/media';
import { VigilMetrics } from '@app/metrics';
import type { ModelLoader } from '@app/models';
import { EDGE_UPLINK_TOPICS, EdgePipeline, LABELS_HEADER, encodeLabelsHeader } from '@app/pipeline';
import { type EdgeConfig, HealthServer, kafkaBusOptions } from '@app/service';

const CODECS = new Map(
  EDGE_UPLINK_TOPICS.map((topic) => [topic.name, codecFor(topic as Topic<unknown>)]),
);
/** How long a stopping edge keeps trying to send what it spooled; the rest waits on disk. */
const DRAIN_ON_STOP_MS = 5_000;

export interface EdgeRuntimeOptions {
  /** Uplink backoff and batch; tests shorten the backoff. */
  uplink?: Pick<UplinkForwarderOptions, 'backoff' | 'batch'>;
}

/**
 * `vigil edge`: the pipeline up to inference beside the cameras, and what it decides sent
 * upstream through a spool on local disk, so a cut link costs a delay, never a detection.
 * Built in dependency order and stopped in reverse.
 */
export class EdgeRuntime implements OnApplicationShutdown {
  private readonly logger = new Logger('vigil edge');
  private pruneTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Port of /health and /metrics, once listening (undefined when VIGIL_HEALTH_PORT is 0). */
  healthPort?: number;

  private constructor(
    readonly config: EdgeConfig,
    readonly pipeline: EdgePipeline,
    readonly spool: DiskSpool,
    readonly uplink: UplinkForwarder,
    readonly metrics: VigilMetrics,
    private readonly health: HealthServer,
  ) {}

  static async create(
    config: EdgeConfig,
    decoder: MediaDecoder,
    loader: ModelLoader,
    ffmpeg: FfmpegLocator,
    options: EdgeRuntimeOptions = {},
  ): Promise<EdgeRuntime> {
    const vigil = config.service;
    const [audioModel, videoModel, rules] = await Promise.all([
      loader.audio(vigil.audioModel),
      loader.video(vigil.videoModel),
      config.evidence.enabled ? loadRuleSet(config.evidence.rulesFile) : undefined,
    ]);
    const metrics = new VigilMetrics({ app: 'edge' });
    const spool = await DiskSpool.open({
      dir: config.spool.dir,
      maxBytes: config.spool.maxBytes,
      maxAgeMs: config.spool.maxAgeSec * 1000,
      fsync: config.spool.fsync,
      observer: metrics.spoolObserver,
    });
    const pipeline = new EdgePipeline({
      decoder,
      audioModel,
      videoModel,
      fps: vigil.fps,
      motion: vigil.motionGating ? {} : undefined,
      liveFrames: { maxAgeMs: vigil.liveFrameMaxAgeMs },
      metrics,
      busObserver: metrics.busObserver,
      detectionKey: (streamId) => config.sites.detectionKey(streamId),
      ...(rules
        ? {
            evidence: {
              rules,
              bufferBytes: config.evidence.bufferBytes,
              ffmpegBinary: ffmpeg.locate(),
              observer: metrics.edgeEvidenceObserver,
              logger: new Logger('edge evidence'),
            },
          }
        : {}),
    });
    const kafkaLogger = new Logger('kafka uplink');
    const messageIds = `${config.edgeId}.${spool.id}`;
    let up = true;
    const uplink = new UplinkForwarder(
      spool,
      () =>
        new KafkaUplinkSink(
          new KafkaBus({
            ...kafkaBusOptions(vigil),
            // Few retries inside kafkajs: the forwarder backs off and retries on its own, and a
            // cut link must not hold a batch for a minute of internal retries.
            retries: 2,
            logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
            observer: metrics.busObserver,
          }),
          messageIds,
        ),
      {
        ...options.uplink,
        observer: {
          ...metrics.uplinkObserver,
          up: (now) => {
            metrics.uplinkObserver.up(now);
            if (now !== up) {
              if (now) kafkaLogger.log(`uplink back; ${spool.pending} record(s) to send`);
              else kafkaLogger.warn(`uplink down; spooling to ${config.spool.dir}`);
            }
            up = now;
          },
        },
      },
    );
    const runtime = new EdgeRuntime(
      config,
      pipeline,
      spool,
      uplink,
      metrics,
      new HealthServer(vigil, metrics),
    );
    await runtime.start();
    return runtime;
  }

  private async start(): Promise<void> {
    this.healthPort = await this.health.listen();
    await this.pipeline.start((message) => this.spoolMessage(message));
    this.uplink.start();
    // Age is also judged while nothing is appended (every stream stopped, the link down).
    this.pruneTimer = setInterval(() => void this.spool.prune().catch(() => undefined), 10_000);
    this.pruneTimer.unref();
    this.health.setReady(true);
  }

  /** Starts the streams of the config file (apart from start, so a caller can watch from the first message). */
  startStreams(): void {
    for (const stream of this.config.streams) {
      this.pipeline.streams.start({
        streamId: stream.streamId,
        source: stream.source,
        live: stream.live,
        loop: stream.loop,
        ...(stream.fps !== undefined ? { fps: stream.fps } : {}),
        headers:
          Object.keys(stream.labels).length > 0
            ? { [LABELS_HEADER]: encodeLabelsHeader(stream.labels) }
            : {},
      });
    }
  }

  /** Durable before the local bus commits it: the encoded message, as it will go upstream. */
  private async spoolMessage(message: BusMessage<unknown>): Promise<void> {
    const codec = CODECS.get(message.topic)!;
    await this.spool.append({
      topic: message.topic,
      key: message.key,
      headers: message.headers,
      value: codec.encode(message.value),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.health.setReady(false);
    clearInterval(this.pruneTimer);
    // Streams end first, so their last detections and statuses are spooled too.
    await this.pipeline.stop();
    const timeout = AbortSignal.timeout(DRAIN_ON_STOP_MS);
    await this.uplink
      .drained(timeout)
      .catch(() =>
        this.logger.warn(`${this.spool.pending} record(s) stay spooled for the next start`),
      );
    await this.uplink.stop();
    await this.spool.close();
    await this.health.onApplicationShutdown();
  }
}
