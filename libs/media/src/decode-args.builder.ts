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
  /** The session's live mode; only a live network source gets the low-delay options below. */
  live?: boolean;
  /** Probe a live source as long as ffmpeg does by default: a short probe left it undescribed. */
  fullProbe?: boolean;
  /** Seconds into the input to start at: an input seek, which lands exactly on the time. */
  startSec?: number;
}

/**
 * Low-delay decoding is for sources that arrive in real time: reading a file is not paced, and
 * a file's frames must stay the ones its event ids and reference numbers were made from.
 */
export function decodesWithLowDelay(source: ResolvedSource, live: boolean): boolean {
  return live && source.network;
}

/**
 * How long ffmpeg analyses a live input before it describes it. MPEG-TS and FLV may add
 * streams at any time, so for them ffmpeg always reads to this limit (5 s by default: the start
 * of every live stream waited that long). Measured on joins between key frames, 0.5 s left
 * H.264's frame size unknown for a 1 s GOP (the next key frame was 0.7 s away) and an AAC
 * stream muxed 0.7 s behind the video without its parameters; 1 s covered both. A GOP longer
 * than that still needs ffmpeg's full probe, which the session falls back to. No -probesize: a
 * byte limit covers less time the higher the bitrate (32 KiB is 33 ms of an 8 Mb/s camera).
 */
export const LIVE_PROBE_SEC = 1;

/** The full ffmpeg argument list for one decode run, one output per requested modality. */
export function buildDecodeArgs(request: DecodeArgsRequest): string[] {
  const { source, audio, video } = request;
  if (!audio && !video) throw new RangeError('a decode run needs at least one output');
  const lowDelay = decodesWithLowDelay(source, request.live === true);
  const args = [
    '-hide_banner',
    '-nostats',
    // Level tags let us tell warnings from the input description without guessing from wording.
    '-loglevel',
    'level+info',
    '-protocol_whitelist',
    source.protocols.join(','),
    ...networkTimeout(source, request.networkTimeoutMs),
    ...(lowDelay ? lowDelayInput(request.fullProbe === true) : []),
    // A live file plays like a camera: read at the pace of its timestamps, not at full speed.
    ...(request.live === true && !source.network ? ['-re'] : []),
    ...(request.startSec ? ['-ss', String(request.startSec)] : []),
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
    args.push('-map', '0:V:0?', '-vf', videoFilter(video, lowDelay));
    // rawvideo encodes with frame threads, one per core, which hold threads - 1 finished frames
    // back (200 ms at 5 fps on 2 cores); a raw frame has nothing worth splitting across threads.
    if (lowDelay) args.push('-threads', '1');
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
 *
 * Live, round=up. The default (near) fills slot n with the last source frame that rounds to
 * it, up to half a slot after n/fps (80 ms at 5 of 25 fps): the frame is stamped earlier than
 * what it shows, and leaves only after the source frame after that one came in. up fills it
 * with the last frame at or before n/fps. Files keep near: their frames are the ones event
 * ids and reference numbers were made from.
 */
const SCALE_FLAGS = 'flags=bilinear+accurate_rnd+full_chroma_int';
/**
 * Live, without full_chroma_int: it was a third of a camera's decoding CPU (2.05 against 1.45
 * CPU s for 160 s of a 640x480 clip, ffmpeg alone), and at 20 cameras on 2 cores the decoders
 * are a quarter of the machine. What it buys, bgr24 and rgb24 agreeing to the level, matters
 * for files, whose frames event ids and reference numbers are made from; a live frame is seen
 * once, and a chroma edge a level off changes nothing a detector finds.
 */
const LIVE_SCALE_FLAGS = 'flags=bilinear+accurate_rnd';

export function videoFilter(video: VideoOutputOptions, live = false): string {
  const fps = `fps=${video.fps}${live ? ':round=up' : ''}:eof_action=pass`;
  const flags = live ? LIVE_SCALE_FLAGS : SCALE_FLAGS;
  const format = `format=${video.pixelFormat}`;
  if (video.resize === 'stretch') {
    return [fps, `scale=${video.width}:${video.height}:${flags}`, format].join(',');
  }
  const { w, h } = letterboxScaleExpressions(video);
  const grey = video.padColor.toString(16).padStart(2, '0');
  return [
    fps,
    `scale=w=${w}:h=${h}:${flags}`,
    format,
    `pad=${video.width}:${video.height}:0:0:color=0x${grey}${grey}${grey}`,
  ].join(',');
}

/**
 * Frame threading (cores + 1 threads) holds threads - 1 decoded frames back: 80 ms at 25 fps
 * on 2 cores, 600 ms on 16. Slice threading adds no delay (measured the same as -threads 1)
 * and still spreads a picture cut into slices over the cores. Measured and left out:
 * -fflags nobuffer drops the packets read while probing, and since audio time counts samples
 * the audio slid 0.56 s against the video; -flags low_delay gained nothing measurable.
 */
function lowDelayInput(fullProbe: boolean): string[] {
  const probe = fullProbe ? [] : ['-analyzeduration', String(LIVE_PROBE_SEC * 1_000_000)];
  return [...probe, '-thread_type', 'slice'];
}

function networkTimeout(source: ResolvedSource, timeoutMs: number): string[] {
  if (!source.network || timeoutMs <= 0) return [];
  const micros = String(Math.round(timeoutMs * 1000));
  // RTSP opens its sockets itself and would reject the generic option as unused.
  if (source.scheme === 'rtsp' || source.scheme === 'rtsps') return ['-timeout', micros];
  return ['-rw_timeout', micros];
}
