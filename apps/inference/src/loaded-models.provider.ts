import type { Provider } from '@nestjs/common';
import type { ServiceConfig } from '@app/config';
import { type LoadedAudioModel, type LoadedVideoModel, ModelLoader } from '@app/models';
import { SERVICE_CONFIG } from '@app/service';

export interface LoadedModels {
  audio: LoadedAudioModel;
  video: LoadedVideoModel;
}

/** The models, loaded once: the stage and InferenceService share their sessions. */
export const LOADED_MODELS = Symbol('LoadedModels');

export const loadedModelsProvider: Provider = {
  provide: LOADED_MODELS,
  inject: [SERVICE_CONFIG, ModelLoader],
  useFactory: async (config: ServiceConfig, loader: ModelLoader): Promise<LoadedModels> => {
    const [audio, video] = await Promise.all([
      loader.audio(config.audioModel),
      loader.video(config.videoModel),
    ]);
    return { audio, video };
  },
};
