import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type DetectionSet, Topics } from '@app/contracts';
import { FusionEngine, type FusionEngineOptions, type RuleSet } from '@app/fusion';
import { Groups } from './pipeline.ports';

/** Detection sets → incidents on `vigil.events`, through the rules engine. */
export class FusionStage {
  private readonly engine: FusionEngine;
  private readonly closeWaiters = new Map<string, (() => void)[]>();
  /** Recently closed streams, so a late `whenClosed` still resolves; bounded. */
  private readonly recentlyClosed = new Set<string>();
  private subscription?: Subscription;

  constructor(
    private readonly bus: Bus,
    rules: RuleSet,
    options: FusionEngineOptions = {},
  ) {
    this.engine = new FusionEngine(rules, options);
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
    for (const event of this.engine.ingest(set)) {
      await this.bus.publish(Topics.events, event.streamId, event, headers);
    }
    if (set.final && !this.engine.isOpen(set.streamId)) {
      this.recentlyClosed.add(set.streamId);
      if (this.recentlyClosed.size > 1024) {
        this.recentlyClosed.delete(this.recentlyClosed.values().next().value!);
      }
      this.closeWaiters.get(set.streamId)?.forEach((resolve) => resolve());
      this.closeWaiters.delete(set.streamId);
    }
  }
}
