import { type DynamicModule, Module } from '@nestjs/common';
import {
  ANALYSIS_LIMITS,
  AnalysisController,
  ClipAnalyzer,
  DirectInference,
  EVIDENCE_STORE,
  EventController,
  EventSignal,
  EventStreamer,
  InferenceController,
  ClipAnalysisService,
  StreamControl,
  StreamController,
  WebhookController,
} from '@app/api';
import { EventRepository } from '@app/history';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader } from '@app/models';
import { DeadLetterService } from '@app/webhooks';
import { apiProviders, derivedProvider, runtimeProviders } from '@app/service';
import { VIGIL_CONFIG } from '../vigil.tokens';
import type { ServeConfig } from '@app/service';
import { ServeRuntime } from './serve.runtime';

/**
 * `vigil serve`: the five gRPC services over one in-process runtime. The controllers are the
 * same classes the ingest and fusion services mount; only the ports' bindings differ.
 */
@Module({})
export class ServeModule {
  static forRoot(config: ServeConfig): DynamicModule {
    return {
      module: ServeModule,
      controllers: [
        StreamController,
        EventController,
        AnalysisController,
        InferenceController,
        WebhookController,
      ],
      providers: [
        { provide: VIGIL_CONFIG, useValue: config.vigil },
        ...runtimeProviders(VIGIL_CONFIG),
        {
          provide: ServeRuntime,
          inject: [MediaDecoder, ModelLoader, FfmpegLocator],
          useFactory: (decoder: MediaDecoder, loader: ModelLoader, locator: FfmpegLocator) =>
            ServeRuntime.create(config, decoder, loader, locator),
        },
        derivedProvider(EventRepository, ServeRuntime, (runtime) => runtime.desk.events),
        derivedProvider(EventSignal, ServeRuntime, (runtime) => runtime.desk.feed),
        derivedProvider(EVIDENCE_STORE, ServeRuntime, (runtime) => runtime.desk.evidenceStore),
        derivedProvider(DeadLetterService, ServeRuntime, (runtime) => runtime.desk.deadLetters),
        derivedProvider(StreamControl, ServeRuntime, (runtime) => runtime.streams),
        derivedProvider(ClipAnalyzer, ServeRuntime, (runtime) => runtime.clips),
        derivedProvider(DirectInference, ServeRuntime, (runtime) => runtime.inference),
        { provide: ANALYSIS_LIMITS, useValue: config.analysis },
        ...apiProviders(config.tokens),
        EventStreamer,
        ClipAnalysisService,
      ],
    };
  }
}
