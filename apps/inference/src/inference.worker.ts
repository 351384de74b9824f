import { Inject, Injectable } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { ModelLoader } from '@app/models';
import { BoxDetector, InferenceStage, TaggerClassifier } from '@app/pipeline';
import { BUS, HealthServer, type Runnable, SERVICE_CONFIG, StageWorker } from '@app/service';

/**
 * The inference service: log-mel windows and frames → detections. Audio windows from several
 * streams are batched into one run; frames run one by one (the detector's batch is fixed at 1).
 */
@Injectable()
export class InferenceWorker extends StageWorker {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) bus: Bus,
    private readonly models: ModelLoader,
    health: HealthServer,
  ) {
    super(bus, health);
  }

  protected async createStage(): Promise<Runnable> {
    const [audio, video] = await Promise.all([
      this.models.audio(this.config.audioModel),
      this.models.video(this.config.videoModel),
    ]);
    return new InferenceStage(this.bus, new TaggerClassifier(audio), new BoxDetector(video), {
      instanceId: this.config.instanceId,
    });
  }
}
