import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DirectInference, EvidenceLinkSigner, StreamRegistry } from '@app/api';
import type { Subscription } from '@app/bus';
import { Topics } from '@app/contracts';
import { EvidenceWriter, FfmpegRunner, FolderEvidenceStore } from '@app/evidence';
import { loadRuleSet } from '@app/fusion';
import { EventRepository, HistoryDatabase } from '@app/history';
import type { FfmpegLocator, MediaDecoder } from '@app/media';
import type { ModelLoader } from '@app/models';
import { EmbeddedPipeline, EventFeed, EvidenceTap, IncidentRecorder } from '@app/pipeline';
import { WebhookBodyBuilder, WebhookDispatcher, WebhookOutbox } from '@app/webhooks';
import { EmbeddedClipAnalyzer } from './embedded-clip.analyzer';
import { EmbeddedStreamControl } from './embedded-stream.control';

import type { ServeConfig } from './serve.config';

const DAY_MS = 86_400_000;
/** Retention runs this often; it deletes in bounded batches, so a run is short. */
const SWEEP_EVERY_MS = 10 * 60_000;
const STATUS_GROUP = 'vigil-api-streams';

/**
 * Everything `vigil serve` runs in one process, built in dependency order and stopped in
 * reverse: the pipeline on its in-memory bus, the evidence tap and incident recorder beside
 * it, the history and its webhook outbox in one SQLite file, and the dispatcher delivering it.
 */
export class ServeRuntime implements OnApplicationShutdown {
  private readonly logger = new Logger('vigil serve');
  private sweepTimer?: NodeJS.Timeout;
  private statusSubscription?: Subscription;
  private stopped = false;

  private constructor(
    readonly config: ServeConfig,
    readonly pipeline: EmbeddedPipeline,
    readonly database: HistoryDatabase,
    readonly events: EventRepository,
    readonly evidenceStore: FolderEvidenceStore,
    readonly feed: EventFeed,
    readonly registry: StreamRegistry,
    readonly tap: EvidenceTap,
    readonly recorder: IncidentRecorder,
    readonly outbox: WebhookOutbox,
    readonly dispatcher: WebhookDispatcher,
    readonly inference: DirectInference,
    readonly streams: EmbeddedStreamControl,
    readonly clips: EmbeddedClipAnalyzer,
    readonly links: EvidenceLinkSigner | undefined,
  ) {}

  static async create(
    config: ServeConfig,
    decoder: MediaDecoder,
    loader: ModelLoader,
    locator: FfmpegLocator,
  ): Promise<ServeRuntime> {
    const { vigil } = config;
    // Rules and models first: a typo in a profile fails before anything is opened.
    const rules = await loadRuleSet(vigil.rulesFile);
    const profiles = Object.fromEntries(
      await Promise.all(
        Object.entries(config.rulesProfiles).map(
          async ([name, file]) => [name, await loadRuleSet(file)] as const,
        ),
      ),
    );
    const [audioModel, videoModel] = await Promise.all([
      loader.audio(vigil.audioModel),
      loader.video(vigil.videoModel),
    ]);
    const models = [audioModel.manifest.name, videoModel.manifest.name];
    const pipeline = new EmbeddedPipeline({
      decoder,
      audioModel,
      videoModel,
      rules,
      profiles,
      fps: vigil.fps,
    });
    const ffmpeg = { binary: locator.locate() };

    const database = new HistoryDatabase({ path: config.history.path });
    const events = new EventRepository(database);
    const evidenceStore = new FolderEvidenceStore({
      root: config.evidence.dir,
      maxAgeMs: config.evidence.maxAgeDays * DAY_MS,
      maxBytes: config.evidence.maxBytes,
    });
    const writer = EvidenceWriter.withFfmpeg(evidenceStore, ffmpeg);
    const feed = new EventFeed({ latestSeq: events.latestSeq() });
    const links =
      config.evidence.publicUrl && config.evidence.linkSecret
        ? new EvidenceLinkSigner(
            config.evidence.publicUrl,
            config.evidence.linkSecret,
            config.evidence.linkTtlSec,
          )
        : undefined;
    const outbox = new WebhookOutbox(database, {
      bodies: new WebhookBodyBuilder(
        links ? (eventId, ref) => links.url(eventId, ref.name) : undefined,
      ),
    });
    const dispatcher = new WebhookDispatcher({
      outbox,
      subscriptions: config.webhooks,
      bus: pipeline.bus,
      logger: new Logger('webhooks'),
    });
    const tap = new EvidenceTap(pipeline.bus);
    const recorderLogger = new Logger('incidents');
    const recorder = new IncidentRecorder(
      {
        bus: pipeline.bus,
        tap,
        writer,
        database,
        events,
        feed,
        outbox: { enqueue: (stored) => void outbox.enqueue(stored, config.webhooks) },
        logger: { warn: (message) => recorderLogger.warn(message) },
      },
      { evidenceTimeoutMs: config.evidence.timeoutMs, onRecorded: () => dispatcher.notify() },
    );
    const registry = new StreamRegistry();
    const runtime = new ServeRuntime(
      config,
      pipeline,
      database,
      events,
      evidenceStore,
      feed,
      registry,
      tap,
      recorder,
      outbox,
      dispatcher,
      new DirectInference(audioModel, videoModel, new FfmpegRunner(ffmpeg)),
      new EmbeddedStreamControl(pipeline, registry, {
        maxStreams: config.streams.max,
        models,
        fps: vigil.fps,
      }),
      new EmbeddedClipAnalyzer(pipeline, { models, fps: vigil.fps }),
      links,
    );
    await runtime.start(models);
    return runtime;
  }

  private async start(models: string[]): Promise<void> {
    const defaults = {
      live: false,
      fps: this.config.vigil.fps,
      models,
      rulesProfile: 'default',
      labels: {},
    };
    this.statusSubscription = await this.pipeline.bus.subscribe(
      Topics.streamStatus,
      STATUS_GROUP,
      async ({ value }) => {
        this.registry.apply(value, defaults);
      },
    );
    // The tap and the recorder subscribe before media flows, so no incident misses its frames.
    await this.tap.start();
    await this.recorder.start();
    await this.pipeline.start();
    this.dispatcher.start();
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweepTimer.unref();
  }

  private sweep(): void {
    try {
      const events = this.events.sweep({
        maxAgeMs: Math.round(this.config.history.maxAgeDays * DAY_MS),
        maxCount: this.config.history.maxEvents,
      });
      if (events > 0) this.logger.log(`retention: ${events} events removed`);
    } catch (error) {
      this.logger.error(`history retention failed: ${(error as Error).message}`);
    }
    this.evidenceStore.sweep().then(
      (files) => files > 0 && this.logger.log(`retention: ${files} evidence files removed`),
      (error: Error) => this.logger.error(`evidence retention failed: ${error.message}`),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweepTimer);
    // Streams end first (their last incidents still get recorded), then the consumers.
    await this.pipeline.streams.stopAll();
    await this.pipeline.bus.idle();
    await this.recorder.stop();
    await this.dispatcher.stop();
    await this.statusSubscription?.close();
    await this.tap.stop();
    await this.pipeline.stop();
    this.database.close();
  }
}
