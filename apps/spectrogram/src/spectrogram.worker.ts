import { Inject, Injectable } from '@nestjs/common';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { ModelRepository } from '@app/models';
import { SpectrogramStage, spectrogramOptionsFor } from '@app/pipeline';
import { BUS, HealthServer, type Runnable, SERVICE_CONFIG, StageWorker } from '@app/service';

/** The spectrogram service: PCM → log-mel windows with the audio model's own recipe. */
@Injectable()
export class SpectrogramWorker extends StageWorker {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(BUS) bus: Bus,
    private readonly models: ModelRepository,
    health: HealthServer,
  ) {
    super(bus, health);
  }

  protected async createStage(): Promise<Runnable> {
    // Only the manifest is needed here: the features follow the model they will feed.
    const manifest = this.models.manifest(this.config.audioModel);
    return new SpectrogramStage(this.bus, spectrogramOptionsFor(manifest));
  }
}
