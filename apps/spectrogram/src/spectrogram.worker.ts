import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { ModelRepository } from '@app/models';
import { SpectrogramStage } from '@app/pipeline';
import { BUS, HealthServer, SERVICE_CONFIG } from '@app/service';

/** The spectrogram service: PCM → log-mel windows with the audio model's own recipe. */
@Injectable()
export class SpectrogramWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private stage?: SpectrogramStage;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) private readonly bus: Bus,
    private readonly models: ModelRepository,
    private readonly health: HealthServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Only the manifest is needed here: the features follow the model they will feed.
    const features = this.models.manifest(this.config.audioModel).features;
    if (!features) throw new Error(`${this.config.audioModel} has no feature recipe`);
    this.stage = new SpectrogramStage(this.bus, {
      recipe: features.recipe,
      windowSec: features.windowSec,
      hopSec: features.hopSec,
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
