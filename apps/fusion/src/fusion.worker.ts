import { Inject, Injectable } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { loadRuleSet } from '@app/fusion';
import { FusionStage } from '@app/pipeline';
import { BUS, HealthServer, type Runnable, SERVICE_CONFIG, StageWorker } from '@app/service';

/** The fusion service: detections → incidents on vigil.events. */
@Injectable()
export class FusionWorker extends StageWorker {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) bus: Bus,
    health: HealthServer,
  ) {
    super(bus, health);
  }

  protected async createStage(): Promise<Runnable> {
    return new FusionStage(this.bus, await loadRuleSet(this.config.rulesFile));
  }
}
