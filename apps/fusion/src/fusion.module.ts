import { type DynamicModule, Module } from '@nestjs/common';
import {
  EVIDENCE_STORE,
  EventController,
  EventSignal,
  EventStreamer,
  WebhookController,
} from '@app/api';
import type { Bus } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { EventRepository } from '@app/history';
import { DeadLetterService } from '@app/webhooks';
import { FfmpegLocator } from '@app/media';
import { VigilMetrics } from '@app/metrics';
import {
  API_CONFIG,
  type ApiConfig,
  BUS,
  HealthServer,
  metricsProvider,
  IncidentDesk,
  SERVICE_CONFIG,
  kafkaBusProvider,
  apiProviders,
  derivedProvider,
  runtimeProviders,
} from '@app/service';
import { FusionWorker } from './fusion.worker';

@Module({})
export class FusionModule {
  static forRoot(config: ServiceConfig, api: ApiConfig): DynamicModule {
    return {
      module: FusionModule,
      // EventService and WebhookService only where a gRPC address is configured.
      controllers: api.grpc ? [EventController, WebhookController] : [],
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        { provide: API_CONFIG, useValue: api },
        ...runtimeProviders(SERVICE_CONFIG),
        kafkaBusProvider(1),
        {
          provide: IncidentDesk,
          inject: [BUS, FfmpegLocator, VigilMetrics],
          useFactory: (bus: Bus, locator: FfmpegLocator, metrics: VigilMetrics) =>
            IncidentDesk.open(bus, api, locator.locate(), metrics),
        },
        metricsProvider(SERVICE_CONFIG),
        HealthServer,
        FusionWorker,
        ...(api.grpc
          ? [
              derivedProvider(EventRepository, IncidentDesk, (desk) => desk.events),
              derivedProvider(EventSignal, IncidentDesk, (desk) => desk.feed),
              derivedProvider(EVIDENCE_STORE, IncidentDesk, (desk) => desk.evidenceStore),
              derivedProvider(DeadLetterService, IncidentDesk, (desk) => desk.deadLetters),
              ...apiProviders(api.tokens),
              EventStreamer,
            ]
          : []),
      ],
    };
  }
}
