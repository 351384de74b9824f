import { MetricsHttpServer, VigilMetrics } from '@app/metrics';
import type { OnApplicationShutdown } from '@nestjs/common';
import { DirectInference, StreamRegistry } from '@app/api';
import type { Subscription } from '@app/bus';
import { Topics } from '@app/contracts';
import { FfmpegRunner } from '@app/evidence';
import { loadRuleProfiles, loadRuleSet } from '@app/fusion';
import type { FfmpegLocator, MediaDecoder } from '@app/media';
import type { ModelLoader } from '@app/models';
import { EmbeddedPipeline, SuppressionGate, isAnalysisOrigin } from '@app/pipeline';
import { IncidentDesk, type ServeConfig } from '@app/service';
import { EmbeddedClipAnalyzer } from './embedded-clip.analyzer';
import { EmbeddedStreamControl } from './embedded-stream.control';

const STATUS_GROUP = 'vigil-api-streams';

/**
 * Everything `vigil serve` runs in one process, built in dependency order and stopped in
 * reverse: the pipeline on its in-memory bus, the incident desk beside it (evidence, history,
 * webhooks), and the ports the gRPC controllers call.
 */
export class ServeRuntime implements OnApplicationShutdown {
  private statusSubscription?: Subscription;
  private stopped = false;

  private constructor(
    readonly config: ServeConfig,
    readonly pipeline: EmbeddedPipeline,
    readonly desk: IncidentDesk,
    readonly registry: StreamRegistry,
    readonly inference: DirectInference,
    readonly streams: EmbeddedStreamControl,
    readonly clips: EmbeddedClipAnalyzer,
    readonly metrics: VigilMetrics,
  ) {}

  private metricsHttp?: MetricsHttpServer;
  /** Where /metrics is served, once started. */
  metricsAddress?: string;

  static async create(
    config: ServeConfig,
    decoder: MediaDecoder,
    loader: ModelLoader,
    locator: FfmpegLocator,
  ): Promise<ServeRuntime> {
    const { vigil } = config;
    // Rules and models first: a typo in a profile fails before anything is opened.
    const rules = await loadRuleSet(vigil.rulesFile);
    const profiles = await loadRuleProfiles(config.rulesProfiles);
    const [audioModel, videoModel] = await Promise.all([
      loader.audio(vigil.audioModel),
      loader.video(vigil.videoModel),
    ]);
    const models: [string, string] = [audioModel.manifest.name, videoModel.manifest.name];
    const metrics = new VigilMetrics({ app: 'serve' });
    // Filled from the history by the desk; fusion reads it for every detection set.
    const suppressions = new SuppressionGate();
    const pipeline = new EmbeddedPipeline({
      suppressions,
      metrics,
      busObserver: metrics.busObserver,
      decoder,
      audioModel,
      videoModel,
      rules,
      profiles,
      sites: config.sites,
      fps: vigil.fps,
      motion: vigil.motionGating ? {} : undefined,
      liveFrames: { maxAgeMs: vigil.liveFrameMaxAgeMs },
    });
    const ffmpeg = locator.locate();
    const registry = new StreamRegistry();
    const runtime = new ServeRuntime(
      config,
      pipeline,
      await IncidentDesk.open(pipeline.bus, config, ffmpeg, metrics, suppressions),
      registry,
      new DirectInference(audioModel, videoModel, new FfmpegRunner({ binary: ffmpeg })),
      new EmbeddedStreamControl(pipeline, registry, {
        maxStreams: config.streams.max,
        models,
        fps: vigil.fps,
        mediaRoots: config.streams.mediaRoots,
      }),
      new EmbeddedClipAnalyzer(pipeline, { models, fps: vigil.fps }),
      metrics,
    );
    await runtime.start(models);
    return runtime;
  }

  private async start(models: string[]): Promise<void> {
    const defaults = {
      live: false,
      loop: false,
      fps: this.config.vigil.fps,
      models,
      rulesProfile: 'default',
      labels: {},
    };
    this.statusSubscription = await this.pipeline.bus.subscribe(
      Topics.streamStatus,
      STATUS_GROUP,
      // Clip analyses are not streams an operator started: ListStreams leaves them out.
      async ({ value, headers }) => {
        if (!isAnalysisOrigin(headers)) this.registry.apply(value, defaults);
      },
    );
    await this.desk.start();
    await this.desk.serveConsole(this.config.tokens, this.streams);
    await this.pipeline.start();
    if (this.config.metricsAddress) {
      this.metricsHttp = new MetricsHttpServer(this.metrics);
      this.metricsAddress = await this.metricsHttp.listen(this.config.metricsAddress);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Streams end first (their last incidents still get recorded), then the consumers.
    await this.pipeline.streams.stopAll();
    await this.pipeline.bus.idle();
    await this.desk.stop();
    await this.statusSubscription?.close();
    await this.pipeline.stop();
    await this.metricsHttp?.close();
  }
}
