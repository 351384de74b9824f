import { type DynamicModule, Module } from '@nestjs/common';
import {
  ANALYSIS_LIMITS,
  AnalysisController,
  ApiAuthGuard,
  ApiTokenRegistry,
  ClipAnalyzer,
  DirectInference,
  EVIDENCE_STORE,
  EventController,
  EventSignal,
  InferenceController,
  StreamControl,
  StreamController,
} from '@app/api';
import { EventRepository } from '@app/history';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader } from '@app/models';
import { runtimeProviders } from '@app/service';
import { VIGIL_CONFIG } from '../vigil.tokens';
import type { ServeConfig } from '@app/service';
import { ServeRuntime } from './serve.runtime';

const fromRuntime = <T>(provide: unknown, pick: (runtime: ServeRuntime) => T) => ({
  provide: provide as never,
  inject: [ServeRuntime],
  useFactory: pick,
});

/**
 * `vigil serve`: the four gRPC services over one in-process runtime. The controllers are the
 * same classes the ingest and fusion services mount; only the ports' bindings differ.
 */
@Module({})
export class ServeModule {
  static forRoot(config: ServeConfig): DynamicModule {
    return {
      module: ServeModule,
      controllers: [StreamController, EventController, AnalysisController, InferenceController],
      providers: [
        { provide: VIGIL_CONFIG, useValue: config.vigil },
        ...runtimeProviders(VIGIL_CONFIG),
        {
          provide: ServeRuntime,
          inject: [MediaDecoder, ModelLoader, FfmpegLocator],
          useFactory: (decoder: MediaDecoder, loader: ModelLoader, locator: FfmpegLocator) =>
            ServeRuntime.create(config, decoder, loader, locator),
        },
        fromRuntime(EventRepository, (runtime) => runtime.desk.events),
        fromRuntime(EventSignal, (runtime) => runtime.desk.feed),
        fromRuntime(EVIDENCE_STORE, (runtime) => runtime.desk.evidenceStore),
        fromRuntime(StreamControl, (runtime) => runtime.streams),
        fromRuntime(ClipAnalyzer, (runtime) => runtime.clips),
        fromRuntime(DirectInference, (runtime) => runtime.inference),
        { provide: ANALYSIS_LIMITS, useValue: config.analysis },
        { provide: ApiTokenRegistry, useValue: new ApiTokenRegistry(config.tokens) },
        ApiAuthGuard,
      ],
    };
  }
}
