import { CED_WAVEFORM, YAMNET_RECIPE } from '@app/dsp';
import type { ModelManifest } from '@app/models';
import type { IngestStageOptions } from './ingest.stage';
import type { SpectrogramStageOptions } from './spectrogram.stage';

/** 0.1 s of audio per message: small enough for low latency, large enough to keep overhead low. */
const CHUNK_SEC = 0.1;
/**
 * A live run's audio goes out in 0.02 s chunks unless the caller says otherwise. A classifier
 * window is complete only once the STFT frame centred on its last 10 ms has its n_fft / 2
 * samples of lookahead (16 ms at 32 kHz), which lie in the chunk after the window's end: with
 * 0.1 s chunks every live window waited up to 0.1 s longer than it needed to (bench:capacity:
 * comp01's glass break alerted 0.52 s after capture, 0.13 s of it between the window's end and
 * fusion). The features are the same whatever the chunking; only the message rate differs,
 * which is why the Kafka ingest service keeps 0.1 s unless told (VIGIL_LIVE_AUDIO_CHUNK_MS).
 */
export const LIVE_CHUNK_SEC = 0.02;

/**
 * What ingest asks ffmpeg for follows from the models: the audio model's sample rate, the
 * detector's input size, resize mode and padding. Features therefore always match their model.
 */
export function mediaOptionsFor(
  audio: ModelManifest,
  video: ModelManifest,
  fps: number,
  liveChunkSec = LIVE_CHUNK_SEC,
): IngestStageOptions {
  const sampleRate = audio.features?.recipe.sampleRate;
  if (!sampleRate) throw new Error(`${audio.name} has no feature recipe`);
  const { width, height, resize, padColor } = video.input;
  if (!width || !height) throw new Error(`${video.name} has no input size`);
  return {
    audio: { sampleRate, chunkSamples: Math.round(sampleRate * CHUNK_SEC) },
    liveChunkSamples: Math.round(sampleRate * liveChunkSec),
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

/**
 * The windows the audio model reads, with what each companion in `companions` (by default the
 * manifest's) reads beside them: YAMNet's patch (6 KB a window), CED-Tiny's 2 s of 16 kHz audio
 * (64 KB). A spectrogram service cannot know whether inference has the companions installed,
 * so it cuts their inputs whenever the manifest names them.
 */
export function spectrogramOptionsFor(
  audio: ModelManifest,
  companions: readonly string[] = audio.companion?.models ?? [],
): SpectrogramStageOptions {
  const features = audio.features;
  if (!features) throw new Error(`${audio.name} has no feature recipe`);
  return {
    recipe: features.recipe,
    windowSec: features.windowSec,
    hopSec: features.hopSec,
    ...(companions.includes('yamnet') ? { yamnet: YAMNET_RECIPE } : {}),
    ...(companions.includes('ced-tiny') ? { waveform: CED_WAVEFORM } : {}),
  };
}
