import { type DynamicModule, Module } from '@nestjs/common';
import { StreamControl, StreamController } from '@app/api';
import type { ServiceConfig } from '@app/config';
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
import { IngestWorker } from './ingest.worker';
import { KafkaStreamControl } from './kafka-stream.control';

@Module({})
export class IngestModule {
  static forRoot(config: ServiceConfig, api: ApiConfig): DynamicModule {
    return {
      module: IngestModule,
      // StreamService only where a gRPC address is configured.
      controllers: api.grpc ? [StreamController] : [],
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        { provide: API_CONFIG, useValue: api },
        ...runtimeProviders(SERVICE_CONFIG),
        kafkaBusProvider(1),
        metricsProvider(SERVICE_CONFIG),
        HealthServer,
        IngestWorker,
        ...(api.grpc
          ? [
              KafkaStreamControl,
              { provide: StreamControl, useExisting: KafkaStreamControl },
              ...apiProviders(api.tokens),
            ]
          : []),
      ],
    };
  }
}
