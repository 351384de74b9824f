import type { AudioOutputOptions, DecodeOptions, VideoOutputOptions } from './decode.contract';

export interface ValidOutputs {
  audio?: AudioOutputOptions;
  video?: VideoOutputOptions;
}

/**
 * Catches programming mistakes in DecodeOptions before ffmpeg sees them (it would fail with a
 * far less helpful message, or silently pick something else). Throws RangeError naming the field.
 */
export function validateDecodeOptions(options: DecodeOptions): ValidOutputs {
  if (typeof options.source !== 'string')
    throw new RangeError('DecodeOptions.source must be a string');
  const audio = options.audio || undefined;
  const video = options.video || undefined;
  if (!audio && !video) throw new RangeError('DecodeOptions needs audio, video or both');
  if (audio) {
    integer('audio.sampleRate', audio.sampleRate, 1, 768_000);
    integer('audio.chunkSamples', audio.chunkSamples, 1, 100_000_000);
  }
  if (video) {
    if (!Number.isFinite(video.fps) || video.fps <= 0 || video.fps > 1000) {
      throw new RangeError(`DecodeOptions.video.fps must be in (0, 1000], got ${video.fps}`);
    }
    integer('video.width', video.width, 1, 16_384);
    integer('video.height', video.height, 1, 16_384);
    integer('video.padColor', video.padColor, 0, 255);
    oneOf('video.resize', video.resize, ['letterbox-topleft', 'stretch']);
    oneOf('video.pixelFormat', video.pixelFormat, ['bgr24', 'rgb24']);
  }
  for (const key of ['stallTimeoutMs', 'networkTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) {
      throw new RangeError(
        `DecodeOptions.${key} must be a non-negative number of milliseconds, got ${value}`,
      );
    }
  }
  if (
    options.startSec !== undefined &&
    (!Number.isFinite(options.startSec) || options.startSec < 0)
  ) {
    throw new RangeError(`DecodeOptions.startSec must be a number >= 0, got ${options.startSec}`);
  }
  return { ...(audio && { audio }), ...(video && { video }) };
}

function integer(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `DecodeOptions.${field} must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
}

function oneOf(field: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value))
    throw new RangeError(
      `DecodeOptions.${field} must be one of ${allowed.join(', ')}, got ${value}`,
    );
}
