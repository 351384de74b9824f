import type { Bus } from '@app/bus';
import type { MediaDecoder } from '@app/media';
import type { LoadedAudioModel, LoadedVideoModel } from '@app/models';
import { InferenceStage, type LiveFrameOptions } from './inference.stage';
import { IngestStage } from './ingest.stage';
import { mediaOptionsFor, spectrogramOptionsFor } from './media-options';
import { BoxDetector, TaggerClassifier } from './model.adapters';
import type { MotionGateOptions } from './motion.gate';
import type { PipelineMetrics } from './pipeline.ports';
import { SpectrogramStage } from './spectrogram.stage';

export interface MediaStagesOptions {
  decoder: MediaDecoder;
  audioModel: LoadedAudioModel;
  videoModel: LoadedVideoModel;
  fps: number;
  motion?: MotionGateOptions;
  liveFrames?: LiveFrameOptions;
  metrics?: PipelineMetrics;
  /** The key detections of a stream are published under (a site's, for its cameras). */
  detectionKey?: (streamId: string) => string;
}

export interface MediaStages {
  ingest: IngestStage;
  spectrogram: SpectrogramStage;
  inference: InferenceStage;
}

/**
 * Ingest, spectrogram and inference on one bus, set up from the models' manifests: the part of
 * the flow that one process (`vigil analyze`, `vigil serve`) and an edge node run alike.
 */
export function mediaStages(bus: Bus, options: MediaStagesOptions): MediaStages {
  const { audioModel, videoModel } = options;
  return {
    ingest: new IngestStage(bus, options.decoder, {
      ...mediaOptionsFor(audioModel.manifest, videoModel.manifest, options.fps),
      motion: options.motion,
    }),
    // One process knows whether the companion loaded: no patches for a companion not there.
    spectrogram: new SpectrogramStage(
      bus,
      spectrogramOptionsFor(
        audioModel.manifest,
        audioModel.companion?.models.map((m) => m.name) ?? [],
      ),
    ),
    inference: new InferenceStage(
      bus,
      new TaggerClassifier(audioModel),
      new BoxDetector(videoModel),
      {
        liveFrames: options.liveFrames,
        metrics: options.metrics,
        // One process: the bus dies with the stage, there is no restart to rebuild state for.
        holdStreamState: false,
        ...(options.detectionKey ? { detectionKey: options.detectionKey } : {}),
      },
    ),
  };
}
