import { type DynamicModule, Module } from '@nestjs/common';
import type { ServiceConfig } from '@app/config';
import { HealthServer, SERVICE_CONFIG, kafkaBusProvider } from '@app/service';
import { FusionWorker } from './fusion.worker';

@Module({})
export class FusionModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: FusionModule,
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        kafkaBusProvider(1),
        HealthServer,
        FusionWorker,
      ],
    };
  }
}
