import { type DynamicModule, Module } from '@nestjs/common';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader } from '@app/models';
import { type EdgeConfig, runtimeProviders } from '@app/service';
import { VIGIL_CONFIG } from '../vigil.tokens';
import { EdgeRuntime, type EdgeRuntimeOptions } from './edge.runtime';

/** `vigil edge`: the runtime over the shared side-effect classes (ffmpeg, onnxruntime, models). */
@Module({})
export class EdgeModule {
  static forRoot(config: EdgeConfig, options: EdgeRuntimeOptions = {}): DynamicModule {
    return {
      module: EdgeModule,
      providers: [
        { provide: VIGIL_CONFIG, useValue: config.service },
        ...runtimeProviders(VIGIL_CONFIG),
        {
          provide: EdgeRuntime,
          inject: [MediaDecoder, ModelLoader, FfmpegLocator],
          useFactory: (decoder: MediaDecoder, loader: ModelLoader, ffmpeg: FfmpegLocator) =>
            EdgeRuntime.create(config, decoder, loader, ffmpeg, options),
        },
      ],
    };
  }
}
