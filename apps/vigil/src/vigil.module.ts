import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { type VigilConfig, loadConfig } from '@app/config';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { AnalyzeService } from './analyze/analyze.service';
import { Clock } from './cli/clock';
import { ModelDownloader } from './models/model.downloader';
import { ModelsService } from './models/models.service';
import { VIGIL_CONFIG } from './vigil.tokens';

/**
 * The CLI's wiring. Side effects (ffmpeg, onnxruntime, HTTP, the clock) are providers, so the
 * services can be tested with strict mocks.
 */
@Module({})
export class VigilModule {
  static forRoot(config: VigilConfig = loadConfig(process.env)): DynamicModule {
    return {
      module: VigilModule,
      providers: [
        { provide: VIGIL_CONFIG, useValue: config },
        Clock,
        {
          provide: FfmpegLocator,
          useFactory: () =>
            new FfmpegLocator({ env: { ...process.env, FFMPEG_PATH: config.ffmpegPath } }),
        },
        {
          provide: MediaDecoder,
          useFactory: (locator: FfmpegLocator) => new MediaDecoder(locator),
          inject: [FfmpegLocator],
        },
        { provide: ModelRepository, useFactory: () => new ModelRepository(config.modelsDir) },
        {
          provide: OnnxSessionFactory,
          useFactory: () =>
            new OnnxSessionFactory(new Logger('onnxruntime'), {
              executionProvider: config.executionProvider,
              intraOpNumThreads: config.inferenceThreads,
            }),
        },
        {
          provide: ModelLoader,
          useFactory: (repository: ModelRepository, sessions: OnnxSessionFactory) =>
            new ModelLoader(repository, sessions),
          inject: [ModelRepository, OnnxSessionFactory],
        },
        ModelDownloader,
        AnalyzeService,
        ModelsService,
      ],
      exports: [AnalyzeService, ModelsService],
    };
  }
}
