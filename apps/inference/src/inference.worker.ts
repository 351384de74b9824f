import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { ModelLoader } from '@app/models';
import { BoxDetector, InferenceStage, TaggerClassifier } from '@app/pipeline';
import { BUS, HealthServer, SERVICE_CONFIG } from '@app/service';

/**
 * The inference service: log-mel windows and frames → detections. Audio windows from several
 * streams are batched into one run; frames run one by one (the detector's batch is fixed at 1).
 */
@Injectable()
export class InferenceWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private stage?: InferenceStage;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) private readonly bus: Bus,
    private readonly models: ModelLoader,
    private readonly health: HealthServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const [audio, video] = await Promise.all([
      this.models.audio(this.config.audioModel),
      this.models.video(this.config.videoModel),
    ]);
    this.stage = new InferenceStage(this.bus, new TaggerClassifier(audio), new BoxDetector(video), {
      instanceId: this.config.instanceId,
    });
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
