import { Inject, Injectable } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { VigilMetrics } from '@app/metrics';
import { BoxDetector, InferenceStage, TaggerClassifier } from '@app/pipeline';
import {
  API_CONFIG,
  type ApiConfig,
  BUS,
  HealthServer,
  type Runnable,
  SERVICE_CONFIG,
  StageWorker,
} from '@app/service';
import { LOADED_MODELS, type LoadedModels } from './loaded-models.provider';

/**
 * The inference service: log-mel windows and frames → detections. Audio windows from several
 * streams are batched into one run; frames run one by one (the detector's batch is fixed at 1).
 */
@Injectable()
export class InferenceWorker extends StageWorker {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(API_CONFIG) private readonly api: ApiConfig,
    @Inject(BUS) bus: Bus,
    @Inject(LOADED_MODELS) private readonly models: LoadedModels,
    private readonly metrics: VigilMetrics,
    health: HealthServer,
  ) {
    super(bus, health);
  }

  protected async createStage(): Promise<Runnable> {
    const { audio, video } = this.models;
    return new InferenceStage(this.bus, new TaggerClassifier(audio), new BoxDetector(video), {
      instanceId: this.config.instanceId,
      liveFrames: { maxAgeMs: this.config.liveFrameMaxAgeMs },
      metrics: this.metrics,
      // A site's cameras on one partition: the fusion replica that owns it sees them all.
      detectionKey: (streamId) => this.api.sites.detectionKey(streamId),
    });
  }
}
