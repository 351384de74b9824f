import { type DynamicModule, Module } from '@nestjs/common';
import { DirectInference, InferenceController } from '@app/api';
import type { ServiceConfig } from '@app/config';
import { FfmpegRunner } from '@app/evidence';
import { FfmpegLocator } from '@app/media';
import {
  API_CONFIG,
  type ApiConfig,
  HealthServer,
  metricsProvider,
  SERVICE_CONFIG,
  apiProviders,
  kafkaBusProvider,
  runtimeProviders,
} from '@app/service';
import { InferenceWorker } from './inference.worker';
import { LOADED_MODELS, type LoadedModels, loadedModelsProvider } from './loaded-models.provider';

@Module({})
export class InferenceModule {
  static forRoot(config: ServiceConfig, api: ApiConfig): DynamicModule {
    return {
      module: InferenceModule,
      // InferenceService only where a gRPC address is configured.
      controllers: api.grpc ? [InferenceController] : [],
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        { provide: API_CONFIG, useValue: api },
        ...runtimeProviders(SERVICE_CONFIG),
        loadedModelsProvider,
        // Several partitions at once, so windows of different streams meet in one batch.
        kafkaBusProvider(config.kafka.partitions),
        metricsProvider(SERVICE_CONFIG),
        HealthServer,
        InferenceWorker,
        ...(api.grpc
          ? [
              {
                provide: DirectInference,
                inject: [LOADED_MODELS, FfmpegLocator],
                useFactory: ({ audio, video }: LoadedModels, locator: FfmpegLocator) =>
                  new DirectInference(audio, video, new FfmpegRunner({ binary: locator.locate() })),
              },
              ...apiProviders(api.tokens),
            ]
          : []),
      ],
    };
  }
}
