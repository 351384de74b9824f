import { type DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@app/config';
import {
  HealthServer,
  SERVICE_CONFIG,
  kafkaBusProvider,
  metricsProvider,
  runtimeProviders,
} from '@app/service';
import { SpectrogramWorker } from './spectrogram.worker';

@Module({})
export class SpectrogramModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: SpectrogramModule,
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        ...runtimeProviders(SERVICE_CONFIG),
        kafkaBusProvider(3),
        metricsProvider(SERVICE_CONFIG),
        HealthServer,
        SpectrogramWorker,
      ],
    };
  }
}
