import { type DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@app/config';
import { HealthServer, SERVICE_CONFIG, kafkaBusProvider, runtimeProviders } from '@app/service';
import { InferenceWorker } from './inference.worker';

@Module({})
export class InferenceModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: InferenceModule,
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        ...runtimeProviders(SERVICE_CONFIG),
        // Several partitions at once, so windows of different streams meet in one batch.
        kafkaBusProvider(config.kafka.partitions),
        HealthServer,
        InferenceWorker,
      ],
    };
  }
}
