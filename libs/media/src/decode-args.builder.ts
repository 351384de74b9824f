import type { AudioOutputOptions, VideoOutputOptions } from './decode.contract';
import { letterboxScaleExpressions } from './frame.geometry';
import type { ResolvedSource } from './source.resolver';

/** ffmpeg writes PCM to this inherited descriptor… */
export const AUDIO_FD = 3;
/** …and raw frames to this one; stdout stays unused so nothing else can end up in the data. */
export const VIDEO_FD = 4;

export interface DecodeArgsRequest {
  source: ResolvedSource;
  audio?: AudioOutputOptions;
  video?: VideoOutputOptions;
  networkTimeoutMs: number;
}

/** The full ffmpeg argument list for one decode run, one output per requested modality. */
export function buildDecodeArgs(request: DecodeArgsRequest): string[] {
  const { source, audio, video } = request;
  if (!audio && !video) throw new RangeError('a decode run needs at least one output');
  const args = [
    '-hide_banner',
    '-nostats',
    // Level tags let us tell warnings from the input description without guessing from wording.
    '-loglevel',
    'level+info',
    '-protocol_whitelist',
    source.protocols.join(','),
    ...networkTimeout(source, request.networkTimeoutMs),
    '-i',
    source.input,
  ];
  if (audio) {
    // '?': an input without audio is reported through the banner, not as a map error.
    args.push('-map', '0:a:0?', '-ac', '1', '-ar', String(audio.sampleRate));
    args.push('-c:a', 'pcm_f32le', '-f', 'f32le', `pipe:${AUDIO_FD}`);
  }
  if (video) {
    // 0:V (capital) skips cover art, which would otherwise pass for a one-frame video.
    args.push('-map', '0:V:0?', '-vf', videoFilter(video));
    args.push(
      '-c:v',
      'rawvideo',
      '-pix_fmt',
      video.pixelFormat,
      '-f',
      'rawvideo',
      `pipe:${VIDEO_FD}`,
    );
  }
  return args;
}

/**
 * fps first so only kept frames are scaled. eof_action=pass keeps the single frame of a still
 * image, which the default rounding would drop. The format filter makes `scale` convert
 * straight to packed RGB, so padding happens in RGB and the pad colour is exact.
 * accurate_rnd+full_chroma_int: without them swscale's fast paths give bgr24 and rgb24 pixels
 * that differ by a few levels, i.e. the colour a model sees would depend on the channel order.
 */
const SCALE_FLAGS = 'flags=bilinear+accurate_rnd+full_chroma_int';

export function videoFilter(video: VideoOutputOptions): string {
  const fps = `fps=${video.fps}:eof_action=pass`;
  const format = `format=${video.pixelFormat}`;
  if (video.resize === 'stretch') {
    return [fps, `scale=${video.width}:${video.height}:${SCALE_FLAGS}`, format].join(',');
  }
  const { w, h } = letterboxScaleExpressions(video);
  const grey = video.padColor.toString(16).padStart(2, '0');
  return [
    fps,
    `scale=w=${w}:h=${h}:${SCALE_FLAGS}`,
    format,
    `pad=${video.width}:${video.height}:0:0:color=0x${grey}${grey}${grey}`,
  ].join(',');
}

function networkTimeout(source: ResolvedSource, timeoutMs: number): string[] {
  if (!source.network || timeoutMs <= 0) return [];
  const micros = String(Math.round(timeoutMs * 1000));
  // RTSP opens its sockets itself and would reject the generic option as unused.
  if (source.scheme === 'rtsp' || source.scheme === 'rtsps') return ['-timeout', micros];
  return ['-rw_timeout', micros];
}
