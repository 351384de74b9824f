import { type DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@app/config';
import { HealthServer, SERVICE_CONFIG, kafkaBusProvider, runtimeProviders } from '@app/service';
import { IngestWorker } from './ingest.worker';

@Module({})
export class IngestModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: IngestModule,
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        ...runtimeProviders(SERVICE_CONFIG),
        kafkaBusProvider(1),
        HealthServer,
        IngestWorker,
      ],
    };
  }
}
