import { Inject, Injectable } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { loadRuleProfiles, loadRuleSet } from '@app/fusion';
import { VigilMetrics } from '@app/metrics';
import { FusionStage } from '@app/pipeline';
import {
  API_CONFIG,
  type ApiConfig,
  BUS,
  HealthServer,
  IncidentDesk,
  type Runnable,
  SERVICE_CONFIG,
  StageWorker,
} from '@app/service';

/**
 * The fusion service: detections → incidents on vigil.events, and what becomes of them (the
 * incident desk: evidence, history, webhooks), which the EventService reads.
 */
@Injectable()
export class FusionWorker extends StageWorker {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(API_CONFIG) private readonly api: ApiConfig,
    @Inject(BUS) bus: Bus,
    private readonly desk: IncidentDesk,
    private readonly metrics: VigilMetrics,
    health: HealthServer,
  ) {
    super(bus, health);
  }

  protected async createStage(): Promise<Runnable> {
    const profiles = await loadRuleProfiles(this.api.rulesProfiles);
    // VIGIL_RULES_FILE, else the config file's rules.default, else the shipped rules.
    const rules = await loadRuleSet(this.config.rulesFile ?? this.api.rulesFile);
    const stage = new FusionStage(this.bus, rules, {
      profiles,
      idle: this.config.streamIdle,
      metrics: this.metrics,
      suppressions: this.desk.suppressionGate,
      sites: this.api.sites,
      // The view of everyone's checkpoints is this replica's own, read whole at each start.
      checkpoint: { everySec: 2, viewGroup: `vigil-fusion-state-view.${this.config.instanceId}` },
    });
    return {
      // The desk's tap and recorder subscribe before fusion decides anything.
      start: async () => {
        await this.desk.start();
        // The web console on http.address / VIGIL_HTTP_ADDRESS; streams are ingest's here.
        await this.desk.serveConsole(this.api.tokens);
        await stage.start();
      },
      stop: async () => {
        await stage.stop();
        await this.desk.stop();
      },
    };
  }
}
