import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type DetectionSet, Topics } from '@app/contracts';
import {
  FusionEngine,
  type FusionEngineOptions,
  type RuleSet,
  runScopedEventId,
} from '@app/fusion';
import { Groups } from './pipeline.ports';
import { DEFAULT_RULES_PROFILE, RULES_PROFILE_HEADER, RUN_HEADER } from './stream-headers';

export interface FusionStageOptions extends FusionEngineOptions {
  /** Named rule sets besides the default one, chosen per stream by RULES_PROFILE_HEADER. */
  profiles?: Readonly<Record<string, RuleSet>>;
}

/** Detection sets → incidents on `vigil.events`, through the rules engine. */
export class FusionStage {
  /** One engine per profile: each keeps its own per-stream windows. */
  private readonly engines = new Map<string, FusionEngine>();
  private readonly closeWaiters = new Map<string, (() => void)[]>();
  /** Recently closed streams, so a late `whenClosed` still resolves; bounded. */
  private readonly recentlyClosed = new Set<string>();
  private subscription?: Subscription;

  constructor(
    private readonly bus: Bus,
    rules: RuleSet,
    options: FusionStageOptions = {},
  ) {
    const { profiles = {}, ...engineOptions } = options;
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
    this.subscription = await this.bus.subscribe(Topics.detections, Groups.fusion, (m) =>
      this.onDetections(m),
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
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

  private async onDetections({ value: set, headers }: BusMessage<DetectionSet>): Promise<void> {
    // Events go out before the detection's offset is committed: a crash replays, never loses.
    // An unknown profile cannot reach here through the API (it validates); a hand-made command
    // falls back to the default rules rather than dropping the stream.
    const engine =
      this.engines.get(headers[RULES_PROFILE_HEADER] ?? DEFAULT_RULES_PROFILE) ??
      this.engines.get(DEFAULT_RULES_PROFILE)!;
    const run = headers[RUN_HEADER];
    for (const decided of engine.ingest(set)) {
      const event = run
        ? {
            ...decided,
            id: runScopedEventId(decided.id, run),
            incidentId: runScopedEventId(decided.incidentId, run),
          }
        : decided;
      await this.bus.publish(Topics.events, event.streamId, event, headers);
    }
    if (set.final && !engine.isOpen(set.streamId)) {
      this.recentlyClosed.add(set.streamId);
      if (this.recentlyClosed.size > 1024) {
        this.recentlyClosed.delete(this.recentlyClosed.values().next().value!);
      }
      this.closeWaiters.get(set.streamId)?.forEach((resolve) => resolve());
      this.closeWaiters.delete(set.streamId);
    }
  }
}
