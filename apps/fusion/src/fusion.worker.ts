import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { loadRuleSet } from '@app/fusion';
import { FusionStage } from '@app/pipeline';
import { BUS, HealthServer, SERVICE_CONFIG } from '@app/service';

/** The fusion service: detections → incidents on vigil.events. */
@Injectable()
export class FusionWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private stage?: FusionStage;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) private readonly bus: Bus,
    private readonly health: HealthServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.stage = new FusionStage(this.bus, await loadRuleSet(this.config.rulesFile));
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
