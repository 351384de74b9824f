import { type DynamicModule, Module } from '@nestjs/common';
import { type VigilConfig, loadConfig } from '@app/config';
import { runtimeProviders } from '@app/service';
import { AnalyzeService } from './analyze/analyze.service';
import { PipelineFactory } from './analyze/pipeline.factory';
import { EvalService } from './eval/eval.service';
import { Clock } from './cli/clock';
import { ModelDownloader } from './models/model.downloader';
import { ModelsService } from './models/models.service';
import { StreamsService } from './streams/streams.service';
import { VIGIL_CONFIG } from './vigil.tokens';

/**
 * The CLI's wiring. Side effects (ffmpeg, onnxruntime, HTTP, Kafka, the clock) are providers,
 * so the services can be tested with strict mocks.
 */
@Module({})
export class VigilModule {
  static forRoot(config: VigilConfig = loadConfig(process.env)): DynamicModule {
    return {
      module: VigilModule,
      providers: [
        { provide: VIGIL_CONFIG, useValue: config },
        Clock,
        ...runtimeProviders(VIGIL_CONFIG),
        ModelDownloader,
        PipelineFactory,
        AnalyzeService,
        EvalService,
        ModelsService,
        StreamsService,
      ],
      exports: [AnalyzeService, EvalService, ModelsService, StreamsService],
    };
  }
}
