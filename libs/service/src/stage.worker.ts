import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { HealthServer } from './health.server';

/** What a worker runs: a pipeline stage, or anything started and stopped like one. */
export interface Runnable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The life of every microservice: build the stage (models, rules), serve health, start
 * consuming, then say ready; on shutdown say not ready first (so no new work is routed here),
 * finish and commit in-flight work, leave the group, disconnect.
 */
export abstract class StageWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private stage?: Runnable;

  protected constructor(
    protected readonly bus: Bus,
    private readonly health: HealthServer,
  ) {}

  protected abstract createStage(): Promise<Runnable>;

  async onApplicationBootstrap(): Promise<void> {
    this.stage = await this.createStage();
    await this.health.listen();
    await this.stage.start();
    this.health.setReady(true);
  }

  async onApplicationShutdown(): Promise<void> {
    this.health.setReady(false);
    await this.stage?.stop();
    await this.bus.close();
  }
}
