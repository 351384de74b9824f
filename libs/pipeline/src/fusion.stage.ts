import type { Bus, BusMessage, Headers, Subscription } from '@app/bus';
import {
  type DetectionSet,
  type Modality,
  type SecurityEvent,
  type SiteDirectory,
  Topics,
  isNotification,
  siteKey,
} from '@app/contracts';
import {
  type EngineSnapshot,
  FusionEngine,
  type FusionEngineOptions,
  type RuleSet,
  SiteEngine,
  type SiteSnapshot,
  runScopedEventId,
} from '@app/fusion';
import { EdgeCopyFilter } from './edge-copy.filter';
import { type CheckpointOptions, FusionCheckpointer, type FusionUnit } from './fusion.checkpointer';
import { Groups, NO_METRICS, type PipelineMetrics } from './pipeline.ports';
import { type IdleTimeouts, StreamIdleWatch } from './stream-idle.watch';
import {
  CAPTURE_EPOCH_HEADER,
  DEFAULT_RULES_PROFILE,
  RULES_PROFILE_HEADER,
  RUN_HEADER,
  runHeaders,
} from './stream-headers';
import type { SuppressionGate } from './suppression.gate';

export interface FusionStageOptions extends FusionEngineOptions {
  /** Named rule sets besides the default one, chosen per stream by RULES_PROFILE_HEADER. */
  profiles?: Readonly<Record<string, RuleSet>>;
  /**
   * A stream whose detections stop without an end of stream is reported stalled, then decided
   * as ended (absence rules decide, its incident closes). Off when unset.
   */
  idle?: IdleTimeouts;
  clock?: { now(): number };
  metrics?: PipelineMetrics;
  /**
   * Checkpoints of each stream's engine state on `vigil.fusion.state`, and detection offsets
   * held until one covers them: a killed or rebalanced replica loses nothing. Off when unset
   * (one process, where nothing outlives the engine anyway).
   */
  checkpoint?: CheckpointOptions;
  /** Operators' per-stream suppressions ("false alarm" feedback); none when unset. */
  suppressions?: SuppressionGate;
  /**
   * Sites and zones of cameras: the default rules' site and zone rules span them. Their
   * detections must come keyed by site (SiteDirectory.detectionKey) on a partitioned bus.
   */
  sites?: SiteDirectory;
  /**
   * How long a site waits for a configured camera that sent nothing (one that is down) before
   * it decides without it; 10 s when unset.
   */
  siteJoinMs?: number;
}

/** A site's checkpoint: the site engine's state and each of its cameras' engine state. */
interface SiteUnitState {
  site: SiteSnapshot | null;
  cameras: { streamId: string; profile: string; state: EngineSnapshot }[];
}

/** Detection sets → incidents on `vigil.events`, through the rules engine. */
export class FusionStage {
  /** One engine per profile: each keeps its own per-stream windows. */
  private readonly engines = new Map<string, FusionEngine>();
  private readonly closeWaiters = new Map<string, (() => void)[]>();
  /** Recently closed streams, so a late `whenClosed` still resolves; bounded. */
  private readonly recentlyClosed = new Set<string>();
  private subscription?: Subscription;
  private readonly idle?: StreamIdleWatch;
  private readonly idleTimeouts?: IdleTimeouts;
  private readonly clock: { now(): number };
  private idleTimer?: NodeJS.Timeout;
  private readonly metrics: PipelineMetrics;
  private readonly checkpointer?: FusionCheckpointer;
  private readonly suppressions?: SuppressionGate;
  /** Copies of detections an edge sent twice (a resend after a lost acknowledgement). */
  private readonly edgeCopies = new EdgeCopyFilter();
  private readonly sites?: SiteDirectory;
  /** Site and zone rules (the default rules'), over every site's cameras; none without sites. */
  private readonly siteEngine?: SiteEngine;
  private readonly streamHeaders = new Map<string, Headers>();
  private readonly siteWaitSince = new Map<string, number>();
  private readonly siteJoinMs: number;
  private siteTimer?: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    rules: RuleSet,
    options: FusionStageOptions = {},
  ) {
    const {
      profiles = {},
      idle,
      clock = Date,
      metrics = NO_METRICS,
      checkpoint,
      suppressions,
      sites,
      siteJoinMs = 10_000,
      ...engineOptions
    } = options;
    this.siteJoinMs = siteJoinMs;
    if (sites && sites.sites.length > 0) {
      this.sites = sites;
      const siteEngine = new SiteEngine(rules, {
        ...engineOptions,
        camerasOf: (site) => sites.camerasOf(site),
      });
      if (siteEngine.hasRules()) this.siteEngine = siteEngine;
    }
    if (checkpoint) this.checkpointer = new FusionCheckpointer(bus, checkpoint);
    this.suppressions = suppressions;
    this.clock = clock;
    this.metrics = metrics;
    if (idle) {
      this.idle = new StreamIdleWatch(idle);
      this.idleTimeouts = idle;
    }
    this.engines.set(DEFAULT_RULES_PROFILE, new FusionEngine(rules, engineOptions));
    for (const [name, set] of Object.entries(profiles)) {
      if (name !== DEFAULT_RULES_PROFILE)
        this.engines.set(name, new FusionEngine(set, engineOptions));
    }
  }

  /** The profiles a stream may ask for. */
  profiles(): string[] {
    return [...this.engines.keys()];
  }

  async start(): Promise<void> {
    await this.checkpointer?.start();
    this.subscription = await this.bus.subscribe(Topics.detections, Groups.fusion, (m) =>
      this.onDetections(m),
    );
    if (this.siteEngine) {
      this.siteTimer = setInterval(() => void this.checkSites().catch(() => undefined), 1000);
      this.siteTimer.unref();
    }
    if (this.idleTimeouts) {
      const everyMs = Math.min(1000, (this.idleTimeouts.stalledSec * 1000) / 4);
      this.idleTimer = setInterval(() => void this.checkIdle().catch(() => undefined), everyMs);
      this.idleTimer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.idleTimer);
    clearInterval(this.siteTimer);
    await this.subscription?.close();
    await this.checkpointer?.stop();
  }

  /**
   * Reports streams gone quiet as stalled, and decides those quiet past the end timeout as if
   * they had ended. Runs on a timer; public so tests drive it with their own clock.
   */
  async checkIdle(): Promise<void> {
    if (!this.idle || !this.idleTimeouts) return;
    const { stalled, ended } = this.idle.check(this.clock.now());
    for (const { streamId, headers } of stalled) {
      this.metrics.streamIdle('stalled');
      await this.publishStatus(
        streamId,
        'stalled',
        `no detections for ${this.idleTimeouts.stalledSec} s`,
        headers,
      );
    }
    for (const { streamId, headers } of ended) {
      this.metrics.streamIdle('ended');
      const engine = this.engineFor(headers);
      for (const modality of ['audio', 'video'] as const) {
        const end = endOf(streamId, modality);
        const decided = this.runScoped(engine.ingest(end), headers);
        await this.publishEvents(this.throughSite(end, decided, headers), headers);
      }
      await this.checkpointer?.ended(this.unitOf(streamId, engine), this.profileOf(headers));
      await this.publishStatus(
        streamId,
        'ended',
        `no detections for ${this.idleTimeouts.endedSec} s: decided as ended`,
        headers,
      );
      this.closed(streamId);
    }
  }

  /** Resolves once fusion has seen the end of both modalities of a stream and published its events. */
  whenClosed(streamId: string): Promise<void> {
    if (this.recentlyClosed.has(streamId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.closeWaiters.get(streamId) ?? [];
      waiters.push(resolve);
      this.closeWaiters.set(streamId, waiters);
    });
  }

  private async onDetections(message: BusMessage<DetectionSet>): Promise<void> {
    const { value: set, headers } = message;
    if (!this.edgeCopies.isNew(set.streamId, headers)) return;
    // Events go out before the detection's offset is committed: a crash replays, never loses.
    // An unknown profile cannot reach here through the API (it validates); a hand-made command
    // falls back to the default rules rather than dropping the stream.
    const engine = this.engineFor(headers);
    const unit = this.checkpointer && this.unitOf(set.streamId, engine);
    if (unit && !(await this.checkpointer!.admit(message, unit))) return;
    const resumed = this.idle?.seen(set.streamId, headers, this.clock.now()) ?? false;
    if (resumed) {
      this.metrics.streamIdle('resumed');
      await this.publishStatus(set.streamId, 'started', 'detections resumed', headers);
    }
    this.noteHeaders(set.streamId, headers);
    const admitted = this.suppressions?.filter(set) ?? set;
    const decided = this.runScoped(engine.ingest(admitted), headers);
    await this.publishEvents(this.throughSite(admitted, decided, headers), headers);
    if (unit) await this.checkpointer!.decided(message, unit, this.profileOf(headers));
    if (set.final && !engine.isOpen(set.streamId)) {
      this.idle?.forget(set.streamId);
      this.closed(set.streamId);
    }
  }

  /**
   * A site camera's set goes on to the site engine with the versions the camera's engine
   * decided for it: out come the site's versions and the camera's, marked where a site
   * incident took them in. A camera in no site passes as it is.
   */
  private throughSite(
    set: DetectionSet,
    decided: SecurityEvent[],
    headers: Headers,
  ): SecurityEvent[] {
    const placement = this.sites?.placementOf(set.streamId);
    if (!placement) return decided;
    // A camera's own incident names where the camera is, zone included, so a filter on a site
    // or a zone finds what happened there, not only what the site and zone rules decided.
    const where = { site: placement.site, ...(placement.zone ? { zone: placement.zone } : {}) };
    const own = decided.map((event) => ({ ...event, ...where }));
    if (!this.siteEngine) return own;
    // Live cameras line up on their capture clocks; files (none) on their media time.
    const epochMs = Number(headers[CAPTURE_EPOCH_HEADER]);
    const originSec = Number.isFinite(epochMs) ? epochMs / 1000 : 0;
    return this.siteEngine.ingest(placement, set, own, originSec);
  }

  private noteHeaders(streamId: string, headers: Headers): void {
    this.streamHeaders.delete(streamId);
    this.streamHeaders.set(streamId, headers);
    // Bounded: the streams seen last are the ones whose versions may still be held.
    if (this.streamHeaders.size > 4096) {
      this.streamHeaders.delete(this.streamHeaders.keys().next().value!);
    }
  }

  /**
   * A site waits for its configured cameras that sent nothing yet; past `siteJoinMs` since the
   * site's first set, those are taken as away (not running) and the site decides without them.
   * Runs on a timer; public so tests drive it with their own clock.
   */
  async checkSites(): Promise<void> {
    if (!this.siteEngine) return;
    const now = this.clock.now();
    for (const site of this.siteEngine.openSites()) {
      const missing = this.siteEngine.missing(site);
      if (missing.length === 0) {
        this.siteWaitSince.delete(site);
        continue;
      }
      const since = this.siteWaitSince.get(site) ?? now;
      this.siteWaitSince.set(site, since);
      if (now - since < this.siteJoinMs) continue;
      this.siteWaitSince.delete(site);
      for (const camera of missing) {
        await this.publishEvents(this.siteEngine.away(site, camera), {});
      }
    }
  }

  /** What one checkpoint key covers: the stream, or the whole site of a site's camera. */
  private unitOf(streamId: string, engine: FusionEngine): FusionUnit {
    const site = this.siteEngine && this.sites?.placementOf(streamId)?.site;
    if (!site) {
      return {
        key: streamId,
        isOpen: () => engine.isOpen(streamId),
        snapshot: () => engine.snapshot(streamId),
        restore: (state) => engine.restore(streamId, state as EngineSnapshot),
      };
    }
    const siteEngine = this.siteEngine!;
    const cameras = this.sites!.camerasOf(site);
    return {
      key: siteKey(site),
      isOpen: () =>
        siteEngine.isOpen(site) || cameras.some((c) => this.openEngineOf(c) !== undefined),
      snapshot: (): SiteUnitState => ({
        site: siteEngine.snapshot(site) ?? null,
        cameras: cameras.flatMap((streamId) => {
          const open = this.openEngineOf(streamId);
          return open ? [{ streamId, profile: open[0], state: open[1].snapshot(streamId)! }] : [];
        }),
      }),
      restore: (state) => {
        const unit = state as SiteUnitState;
        if (unit.site) siteEngine.restore(site, unit.site);
        for (const camera of unit.cameras) {
          this.engineOfProfile(camera.profile).restore(camera.streamId, camera.state);
        }
      },
    };
  }

  /** The engine (and its profile) holding a stream's state, if any does. */
  private openEngineOf(streamId: string): [string, FusionEngine] | undefined {
    return [...this.engines].find(([, engine]) => engine.isOpen(streamId));
  }

  private engineOfProfile(profile: string): FusionEngine {
    return this.engines.get(profile) ?? this.engines.get(DEFAULT_RULES_PROFILE)!;
  }

  private profileOf(headers: Headers): string {
    const asked = headers[RULES_PROFILE_HEADER] ?? DEFAULT_RULES_PROFILE;
    return this.engines.has(asked) ? asked : DEFAULT_RULES_PROFILE;
  }

  private engineFor(headers: Headers): FusionEngine {
    return (
      this.engines.get(headers[RULES_PROFILE_HEADER] ?? DEFAULT_RULES_PROFILE) ??
      this.engines.get(DEFAULT_RULES_PROFILE)!
    );
  }

  /**
   * A live run's ids are its own (a camera's clock starts at 0 on every start). Not a site
   * incident's: its time is the site's, shared by cameras of different runs (on the capture
   * clock for live ones, which never repeats).
   */
  private runScoped(decided: SecurityEvent[], headers: Headers): SecurityEvent[] {
    const run = headers[RUN_HEADER];
    if (!run) return decided;
    return decided.map((version) => ({
      ...version,
      id: runScopedEventId(version.id, run),
      incidentId: runScopedEventId(version.incidentId, run),
    }));
  }

  /**
   * Each version goes out with the headers of its stream's latest set (labels, run, capture
   * clock): a site camera's version the site held may come out while another camera's set is
   * being decided.
   */
  private async publishEvents(decided: SecurityEvent[], headers: Headers): Promise<void> {
    for (const event of decided) {
      const own = this.streamHeaders.get(event.streamId) ?? headers;
      await this.bus.publish(Topics.events, event.streamId, event, own);
      this.metrics.incidentVersion(event);
      this.observeLatency(event, own);
    }
  }

  private observeLatency(event: SecurityEvent, headers: Headers): void {
    const epochMs = Number(headers[CAPTURE_EPOCH_HEADER]);
    const trigger = event.evidence[0];
    if (!isNotification(event) || !Number.isFinite(epochMs) || !trigger) return;
    const capturedMs = epochMs + trigger.atSec * 1000;
    this.metrics.incidentLatency(event.severity, Math.max(0, this.clock.now() - capturedMs) / 1000);
  }

  /**
   * A verdict about the run whose detections carried `headers`: it names that run (command,
   * request, labels) as ingest's statuses do, so on the compacted status topic, where it may be
   * all that is left of the stream, it still says which run it was about.
   */
  private async publishStatus(
    streamId: string,
    state: 'started' | 'stalled' | 'ended',
    reason: string,
    headers: Headers,
  ): Promise<void> {
    // Source unknown here: the registry keeps the one ingest reported.
    const status = { streamId, state, source: '', reason };
    await this.bus.publish(Topics.streamStatus, streamId, status, runHeaders(headers));
  }

  private closed(streamId: string): void {
    this.recentlyClosed.add(streamId);
    if (this.recentlyClosed.size > 1024) {
      this.recentlyClosed.delete(this.recentlyClosed.values().next().value!);
    }
    this.closeWaiters.get(streamId)?.forEach((resolve) => resolve());
    this.closeWaiters.delete(streamId);
  }
}

/** What the engine gets when a modality's media end, here stood in for by the idle timeout. */
function endOf(streamId: string, modality: Modality): DetectionSet {
  return {
    streamId,
    modality,
    seq: 0,
    startSec: 0,
    endSec: 0,
    atSec: 0,
    model: '',
    detections: [],
    final: true,
  };
}
