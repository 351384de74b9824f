import type { Bus, BusMessage, Headers, Subscription } from '@app/bus';
import {
  type DetectionSet,
  type Modality,
  type SecurityEvent,
  Topics,
  isNotification,
} from '@app/contracts';
import {
  FusionEngine,
  type FusionEngineOptions,
  type RuleSet,
  runScopedEventId,
} from '@app/fusion';
import { EdgeCopyFilter } from './edge-copy.filter';
import { type CheckpointOptions, FusionCheckpointer } from './fusion.checkpointer';
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
      ...engineOptions
    } = options;
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
    if (this.idleTimeouts) {
      const everyMs = Math.min(1000, (this.idleTimeouts.stalledSec * 1000) / 4);
      this.idleTimer = setInterval(() => void this.checkIdle().catch(() => undefined), everyMs);
      this.idleTimer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.idleTimer);
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
        await this.publishEvents(engine.ingest(endOf(streamId, modality)), headers);
      }
      await this.checkpointer?.ended(streamId, engine, this.profileOf(headers));
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
    if (this.checkpointer && !(await this.checkpointer.admit(message, engine))) return;
    const resumed = this.idle?.seen(set.streamId, headers, this.clock.now()) ?? false;
    if (resumed) {
      this.metrics.streamIdle('resumed');
      await this.publishStatus(set.streamId, 'started', 'detections resumed', headers);
    }
    await this.publishEvents(engine.ingest(this.suppressions?.filter(set) ?? set), headers);
    await this.checkpointer?.decided(message, engine, this.profileOf(headers));
    if (set.final && !engine.isOpen(set.streamId)) {
      this.idle?.forget(set.streamId);
      this.closed(set.streamId);
    }
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

  private async publishEvents(decided: SecurityEvent[], headers: Headers): Promise<void> {
    const run = headers[RUN_HEADER];
    for (const version of decided) {
      const event = run
        ? {
            ...version,
            id: runScopedEventId(version.id, run),
            incidentId: runScopedEventId(version.incidentId, run),
          }
        : version;
      await this.bus.publish(Topics.events, event.streamId, event, headers);
      this.metrics.incidentVersion(event);
      this.observeLatency(event, headers);
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
