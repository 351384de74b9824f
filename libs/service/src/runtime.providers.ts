import { Logger, type Provider } from '@nestjs/common';
import type { VigilConfig } from '@app/config';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { VigilMetrics } from '@app/metrics';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';

/**
 * The side-effect classes every shell needs (ffmpeg, onnxruntime, the models folder), built
 * once from the validated config. Shared by the CLI and the microservices.
 */
export function runtimeProviders(configToken: symbol): Provider[] {
  return [
    {
      provide: FfmpegLocator,
      inject: [configToken],
      useFactory: (config: VigilConfig) =>
        new FfmpegLocator({ env: { ...process.env, FFMPEG_PATH: config.ffmpegPath } }),
    },
    {
      provide: MediaDecoder,
      inject: [FfmpegLocator],
      useFactory: (locator: FfmpegLocator) => new MediaDecoder(locator),
    },
    {
      provide: ModelRepository,
      inject: [configToken],
      useFactory: (config: VigilConfig) => new ModelRepository(config.modelsDir),
    },
    {
      provide: OnnxSessionFactory,
      inject: [configToken],
      useFactory: (config: VigilConfig) =>
        new OnnxSessionFactory(new Logger('onnxruntime'), {
          executionProvider: config.executionProvider,
          intraOpNumThreads: config.inferenceThreads,
          tensorrt: { precision: config.tensorrtPrecision, cacheDir: config.tensorrtCacheDir },
        }),
    },
    {
      provide: ModelLoader,
      inject: [configToken, ModelRepository, OnnxSessionFactory],
      useFactory: (
        config: VigilConfig,
        repository: ModelRepository,
        sessions: OnnxSessionFactory,
      ) =>
        new ModelLoader(repository, sessions, {
          precision: { audio: config.audioPrecision, video: config.videoPrecision },
          detectorWorkers: config.detectorWorkers,
          logger: new Logger('models'),
        }),
    },
  ];
}

/** This process's Prometheus metrics, served on /metrics by the HealthServer. */
export function metricsProvider(configToken: symbol): Provider {
  return {
    provide: VigilMetrics,
    inject: [configToken],
    useFactory: (config: { app?: string }) => new VigilMetrics({ app: config.app ?? 'vigil' }),
  };
}
