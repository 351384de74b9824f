import { Logger } from '@nestjs/common';
import {
  type ApiToken,
  ApiTokenRegistry,
  ConsoleHttpServer,
  ConsoleService,
  EvidenceHttpServer,
  EvidenceLinkSigner,
  type StreamControl,
  consoleAssetsDir,
} from '@app/api';
import type { Bus } from '@app/bus';
import type { VigilMetrics } from '@app/metrics';
import { EvidenceWriter, FolderEvidenceStore } from '@app/evidence';
import { redactDatabaseUrl } from '@app/config';
import {
  EventRepository,
  HistoryDatabase,
  IncidentActionRepository,
  PostgresSqlDatabase,
  SqliteSqlDatabase,
  StreamSuppressionRepository,
  type SqlDatabase,
} from '@app/history';
import {
  EdgeEvidenceReceiver,
  EventFeed,
  EvidenceTap,
  IncidentRecorder,
  SuppressionGate,
} from '@app/pipeline';
import {
  DeadLetterService,
  WebhookBodyBuilder,
  WebhookDispatcher,
  WebhookOutbox,
} from '@app/webhooks';
import type { ApiConfig } from './api-config.loader';

const DAY_MS = 86_400_000;
/** Retention runs this often; it deletes in bounded batches, so a run is short. */
const SWEEP_EVERY_MS = 10 * 60_000;

type DeskConfig = Pick<ApiConfig, 'history' | 'evidence' | 'webhooks' | 'http' | 'sites'>;

/** The history's repositories, opened (migrated) before the desk is built around them. */
interface DeskStores {
  database: SqlDatabase;
  events: EventRepository;
  actions: IncidentActionRepository;
  suppressions: StreamSuppressionRepository;
  outbox: WebhookOutbox;
}

/**
 * What becomes of an incident once fusion decides it, wherever fusion runs: evidence from the
 * tap, the history and its webhook outbox in one database (the SQLite file, or the PostgreSQL
 * of VIGIL_DATABASE_URL that replicas share), the live feed for Subscribe, the dispatcher
 * delivering webhooks, the evidence links' HTTP server, and retention. `vigil serve` runs it on
 * the in-memory bus; the fusion service on Kafka.
 */
export class IncidentDesk {
  private readonly logger = new Logger('incidents');
  readonly database: SqlDatabase;
  readonly events: EventRepository;
  /** The operators' audit trail (acknowledge, resolve, false alarm), in the same file. */
  readonly actions: IncidentActionRepository;
  /** "False alarm" feedback: classes ignored per stream for a while, read by fusion's gate. */
  readonly suppressions: StreamSuppressionRepository;
  readonly evidenceStore: FolderEvidenceStore;
  readonly feed: EventFeed;
  readonly links?: EvidenceLinkSigner;
  readonly outbox: WebhookOutbox;
  readonly dispatcher: WebhookDispatcher;
  /** What WebhookService lists and replays. */
  readonly deadLetters: DeadLetterService;
  readonly tap: EvidenceTap;
  /** Evidence edge nodes render and send, stored as it comes, for their streams' incidents. */
  readonly edgeEvidence: EdgeEvidenceReceiver;
  readonly recorder: IncidentRecorder;
  private evidenceHttp?: EvidenceHttpServer;
  private consoleHttp?: ConsoleHttpServer;
  /** Where the web console is served, once started. */
  consoleAddress?: string;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  /** Where the evidence links are served, once started. */
  evidenceAddress?: string;

  /**
   * Opens the history (bringing its schema up to date) and builds the desk around it. With
   * `history.databaseUrl` the history is PostgreSQL, shared by every replica; else the file.
   */
  static async open(
    bus: Bus,
    config: DeskConfig,
    ffmpegBinary: string,
    metrics?: VigilMetrics,
    /** The gate fusion filters detections through; the desk keeps it up to date. */
    suppressionGate: SuppressionGate = new SuppressionGate(),
  ): Promise<IncidentDesk> {
    const { databaseUrl } = config.history;
    const database: SqlDatabase = databaseUrl
      ? new PostgresSqlDatabase({ url: databaseUrl })
      : new SqliteSqlDatabase(new HistoryDatabase({ path: config.history.path }), true);
    try {
      const links = linkSigner(config);
      const stores: DeskStores = {
        database,
        events: await EventRepository.open(database),
        actions: await IncidentActionRepository.open(database),
        suppressions: await StreamSuppressionRepository.open(database),
        outbox: await WebhookOutbox.open(database, {
          bodies: new WebhookBodyBuilder(
            links ? (eventId, ref) => links.url(eventId, ref.name) : undefined,
          ),
        }),
      };
      suppressionGate.replace(await stores.suppressions.active());
      const latestSeq = await stores.events.latestSeq();
      new Logger('incidents').log(
        `history: ${databaseUrl ? redactDatabaseUrl(databaseUrl) : config.history.path}`,
      );
      return new IncidentDesk(
        bus,
        config,
        ffmpegBinary,
        stores,
        latestSeq,
        metrics,
        suppressionGate,
      );
    } catch (error) {
      await database.close();
      throw error;
    }
  }

  private constructor(
    bus: Bus,
    private readonly config: DeskConfig,
    ffmpegBinary: string,
    stores: DeskStores,
    latestSeq: number,
    private readonly metrics: VigilMetrics | undefined,
    readonly suppressionGate: SuppressionGate,
  ) {
    this.database = stores.database;
    this.events = stores.events;
    this.actions = stores.actions;
    this.suppressions = stores.suppressions;
    this.outbox = stores.outbox;
    this.evidenceStore = new FolderEvidenceStore({
      root: config.evidence.dir,
      maxAgeMs: config.evidence.maxAgeDays * DAY_MS,
      maxBytes: config.evidence.maxBytes,
    });
    this.feed = new EventFeed({
      latestSeq,
      // A subscriber that threw is logged like everything else, not on the bare console.
      warn: (message) => this.logger.warn(message),
    });
    this.links = linkSigner(config);
    this.dispatcher = new WebhookDispatcher({
      outbox: this.outbox,
      subscriptions: config.webhooks,
      bus,
      logger: new Logger('webhooks'),
      ...(metrics ? { observer: metrics.webhookObserver } : {}),
    });
    this.deadLetters = new DeadLetterService({
      outbox: this.outbox,
      subscriptions: config.webhooks,
      dispatcher: this.dispatcher,
      logger: new Logger('webhooks'),
    });
    this.tap = new EvidenceTap(bus);
    this.edgeEvidence = new EdgeEvidenceReceiver(bus, this.evidenceStore);
    this.recorder = new IncidentRecorder(
      {
        bus,
        tap: this.tap,
        edgeEvidence: this.edgeEvidence,
        writer: EvidenceWriter.withFfmpeg(this.evidenceStore, { binary: ffmpegBinary }),
        database: this.database,
        events: this.events,
        feed: this.feed,
        outbox: { enqueue: (stored, tx) => this.outbox.enqueue(stored, config.webhooks, tx) },
        logger: { warn: (message) => this.logger.warn(message) },
      },
      {
        evidenceTimeoutMs: config.evidence.timeoutMs,
        // Most of the wait may go to the media catching up (a file's video runs behind its
        // audio); rendering and storing the three files takes well under a second.
        captureTimeoutMs: Math.max(0, config.evidence.timeoutMs - 1000),
        onRecorded: () => this.dispatcher.notify(),
      },
    );
  }

  /** Before media flows: the tap and the recorder must see every frame an incident may need. */
  async start(): Promise<void> {
    await this.tap.start();
    await this.edgeEvidence.start();
    await this.recorder.start();
    this.dispatcher.start();
    if (this.links && this.config.evidence.httpAddress) {
      this.evidenceHttp = new EvidenceHttpServer(this.evidenceStore, this.links);
      this.evidenceAddress = await this.evidenceHttp.listen(this.config.evidence.httpAddress);
    }
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweepTimer.unref();
  }

  /**
   * The web console on `http.address`, with the gRPC API's tokens and roles; `streams` where
   * this process can start and stop them (`vigil serve`), not in the fusion service.
   */
  async serveConsole(tokens: readonly ApiToken[], streams?: StreamControl): Promise<void> {
    if (!this.config.http) return;
    const service = new ConsoleService(
      this.events,
      this.actions,
      this.evidenceStore,
      this.feed,
      streams,
      { repository: this.suppressions, gate: this.suppressionGate },
      this.config.sites,
    );
    this.consoleHttp = new ConsoleHttpServer(service, new ApiTokenRegistry(tokens), {
      assetsDir: consoleAssetsDir(),
      secureCookie: this.config.http.secureCookie,
      ...(this.metrics ? { metrics: this.metrics } : {}),
    });
    this.consoleAddress = await this.consoleHttp.listen(this.config.http.address);
  }

  /** After the streams ended: records what is in flight, then lets go of the file. */
  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.consoleHttp?.close();
    await this.recorder.stop();
    await this.dispatcher.stop();
    await this.tap.stop();
    await this.edgeEvidence.stop();
    await this.sweeping;
    await this.evidenceHttp?.close();
    await this.database.close();
  }

  private sweep(): void {
    // One run at a time: a slow database must not pile runs up.
    this.sweeping ??= this.sweepHistory().finally(() => (this.sweeping = undefined));
    this.evidenceStore.sweep().then(
      (files) => files > 0 && this.logger.log(`retention: ${files} evidence files removed`),
      (error: Error) => this.logger.error(`evidence retention failed: ${error.message}`),
    );
  }

  private async sweepHistory(): Promise<void> {
    try {
      const removed = await this.events.sweep({
        maxAgeMs: Math.round(this.config.history.maxAgeDays * DAY_MS),
        maxCount: this.config.history.maxEvents,
      });
      if (removed > 0) this.logger.log(`retention: ${removed} events removed`);
      const actions = await this.actions.sweep();
      if (actions > 0) this.logger.log(`retention: ${actions} operator actions removed`);
      // Given-up deliveries keep their bodies for inspection, for as long as events are kept.
      const dead = await this.outbox.pruneDead(
        Date.now() - Math.round(this.config.history.maxAgeDays * DAY_MS),
      );
      if (dead > 0) this.logger.log(`retention: ${dead} dead webhook deliveries removed`);
    } catch (error) {
      this.logger.error(`history retention failed: ${(error as Error).message}`);
    }
  }
}

function linkSigner(config: DeskConfig): EvidenceLinkSigner | undefined {
  const { publicUrl, linkSecret, linkTtlSec } = config.evidence;
  return publicUrl && linkSecret
    ? new EvidenceLinkSigner(publicUrl, linkSecret, linkTtlSec)
    : undefined;
}
