import type { ModelManifest } from '@app/models';
import type { IngestStageOptions } from './ingest.stage';

/** 0.1 s of audio per message: small enough for low latency, large enough to keep overhead low. */
const CHUNK_SEC = 0.1;

/**
 * What ingest asks ffmpeg for follows from the models: the audio model's sample rate, the
 * detector's input size, resize mode and padding. Features therefore always match their model.
 */
export function mediaOptionsFor(
  audio: ModelManifest,
  video: ModelManifest,
  fps: number,
): IngestStageOptions {
  const sampleRate = audio.features?.recipe.sampleRate;
  if (!sampleRate) throw new Error(`${audio.name} has no feature recipe`);
  const { width, height, resize, padColor } = video.input;
  if (!width || !height) throw new Error(`${video.name} has no input size`);
  return {
    audio: { sampleRate, chunkSamples: Math.round(sampleRate * CHUNK_SEC) },
    video: {
      fps,
      width,
      height,
      resize: resize ?? 'stretch',
      padColor:
        padColor === undefined ? 114 : parseInt(padColor.replace(/^0x/, '').slice(0, 2), 16),
      pixelFormat: video.input.pixelFormat ?? 'bgr24',
    },
  };
}
