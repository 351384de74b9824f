import type { FrameGeometry } from '@app/contracts';

/** Mono float32 PCM, cut into chunks of exactly `chunkSamples` (the last one may be shorter). */
export interface AudioOutputOptions {
  sampleRate: number;
  chunkSamples: number;
}

/** Frames at a fixed rate, resized by ffmpeg to the detector's input. */
export interface VideoOutputOptions {
  fps: number;
  width: number;
  height: number;
  /** 'letterbox-topleft': keep aspect, image at the top-left, pad right/bottom. 'stretch': ignore aspect. */
  resize: 'letterbox-topleft' | 'stretch';
  /** Grey level 0–255 of the padding (114 for YOLOX). */
  padColor: number;
  pixelFormat: 'bgr24' | 'rgb24';
}

export interface DecodeOptions {
  /** A file path, a `file:` URL, or an http(s)/rtsp(s)/rtmp(s)/tcp/udp URL. */
  source: string;
  /** Omitted or false: no audio is decoded at all. */
  audio?: AudioOutputOptions | false;
  /** Omitted or false: no video is decoded at all. */
  video?: VideoOutputOptions | false;
  /**
   * Live sources keep only the newest frame when the consumer falls behind (drops are counted)
   * instead of pausing ffmpeg, because pausing a camera only makes every later frame staler.
   * Default: true for rtsp(s), rtmp(s), udp and tcp; false for files and http(s).
   */
  live?: boolean;
  /** No media byte for this long while the consumer is not the one holding back: STALLED. Default 15 s; 0 disables. */
  stallTimeoutMs?: number;
  /** Network read/connect timeout handed to ffmpeg. Default 10 s. */
  networkTimeoutMs?: number;
  /**
   * Seconds into a file where decoding starts (an input seek): how a stream is resumed. Times
   * of chunks and frames still count from 0 at this point. ffmpeg's resampler needs a few
   * samples to settle after a seek, so a caller that wants the very samples of a whole decode
   * starts a little earlier and drops what comes before the time it wants.
   */
  startSec?: number;
  signal?: AbortSignal;
}

/** What the input turned out to contain, as ffmpeg described it before decoding. */
export interface MediaInfo {
  hasAudio: boolean;
  /** Moving or still pictures; cover art attached to audio files does not count. */
  hasVideo: boolean;
  /** The container's declared duration; absent for live streams and when ffmpeg says N/A. */
  durationSec?: number;
  /** Frame size as displayed, i.e. after ffmpeg's auto-rotation: the size frame geometry refers to. */
  width?: number;
  height?: number;
  /** Display rotation in degrees that ffmpeg applies before our filters (0, 90, 180, 270). */
  rotation?: number;
  videoCodec?: string;
  audioCodec?: string;
}

export interface DecodedAudio {
  /** 0, 1, 2… in stream order. */
  index: number;
  /** Stream seconds, from the number of samples before this chunk. */
  startSec: number;
  sampleRate: number;
  samples: Float32Array;
}

export interface DecodedFrame {
  /** 0, 1, 2… counting frames dropped in live mode too, so ptsSec stays stream time. */
  index: number;
  /** index / fps. */
  ptsSec: number;
  width: number;
  height: number;
  pixelFormat: 'bgr24' | 'rgb24';
  /** width*height*3 bytes, row-major, interleaved. */
  pixels: Uint8Array;
  /** Maps source pixels to these pixels; exact for the size ffmpeg produced. */
  geometry: FrameGeometry;
}

export interface DecodeSummary {
  /** Seconds of audio delivered to the consumer. */
  audioSec: number;
  /** Frames delivered to the consumer. */
  videoFrames: number;
  /** Frames dropped because a live consumer was behind. */
  droppedFrames: number;
  /** The input ended before the container said it would, or ffmpeg reported partial data. */
  truncated: boolean;
  /** Distinct problems ffmpeg reported on a run that still succeeded, plus our own notes. */
  warnings: string[];
  /** stop() ended the run before the input did. */
  stopped: boolean;
}

/**
 * One decode of one source by one ffmpeg process. Read every output you enabled, concurrently
 * (both come from the same process: an output nobody reads blocks the other). Breaking out of
 * an iterator discards the rest of that output; the other keeps flowing.
 */
export interface DecodeSession {
  /** Resolves once ffmpeg described the input; rejects with MediaError if it fails before. */
  readonly info: Promise<MediaInfo>;
  /** Ends at once when audio is disabled or absent. Can be iterated once. Throws MediaError on failure. */
  audio(): AsyncIterable<DecodedAudio>;
  /** Ends at once when video is disabled or absent. Can be iterated once. Throws MediaError on failure. */
  video(): AsyncIterable<DecodedFrame>;
  /** Resolves when ffmpeg ended and every output was read; rejects with MediaError on failure. */
  readonly done: Promise<DecodeSummary>;
  /** Stops ffmpeg (idempotent); iterators end quietly and `done` resolves with `stopped: true`. */
  stop(): Promise<void>;
}
