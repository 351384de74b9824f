import type { Bus, Headers } from '@app/bus';
import { type StreamStatus, type VideoFrame, Topics } from '@app/contracts';
import {
  type AudioOutputOptions,
  type DecodeSummary,
  type MediaDecoder,
  type MediaInfo,
  type VideoOutputOptions,
  redactUrl,
} from '@app/media';

export interface IngestStageOptions {
  audio: AudioOutputOptions;
  video: VideoOutputOptions;
  stallTimeoutMs?: number;
}

export interface IngestRun {
  streamId: string;
  source: string;
  live?: boolean;
  /** Frames per second for this run; the stage's default when left out. */
  fps?: number;
  /** Leave a modality out (its model was not asked for); both are decoded by default. */
  audio?: boolean;
  video?: boolean;
  signal?: AbortSignal;
  headers?: Headers;
  /** Added to every timestamp: a reconnected live stream continues its own timeline. */
  timeOffsetSec?: number;
  /**
   * End the stream downstream when this run ends or fails (end markers and an ended or failed
   * status). Default true; a supervisor that reconnects live sources passes false and closes
   * the stream itself when it stops or gives up.
   */
  closeStream?: boolean;
  /** Called with the media info once known, and with stream seconds as data flows. */
  onInfo?: (info: MediaInfo) => void;
  onProgress?: (sec: number) => void;
}

export interface IngestResult {
  info: MediaInfo;
  summary: DecodeSummary;
  /** Stream seconds decoded in this run: the longer of the two modalities. */
  decodedSec: number;
}

/**
 * A source → PCM chunks and model-sized frames on the bus. When a stream ends, both media
 * topics get a `final` marker so every later stage can close it, and the status topic says how
 * it ended.
 */
export class IngestStage {
  constructor(
    private readonly bus: Bus,
    private readonly decoder: MediaDecoder,
    private readonly options: IngestStageOptions,
  ) {}

  async run(run: IngestRun): Promise<IngestResult> {
    const { streamId } = run;
    const headers = run.headers ?? {};
    const offset = run.timeOffsetSec ?? 0;
    const source = redactUrl(run.source);
    const videoOptions = run.fps ? { ...this.options.video, fps: run.fps } : this.options.video;
    const session = this.decoder.open({
      source: run.source,
      audio: run.audio === false ? false : this.options.audio,
      video: run.video === false ? false : videoOptions,
      live: run.live,
      stallTimeoutMs: this.options.stallTimeoutMs,
      signal: run.signal,
    });
    // `done` also rejects when an iterator fails; that failure is handled through the
    // iterator, so this copy of it must not surface as an unhandled rejection.
    session.done.catch(() => undefined);
    let audioSeq = 0;
    let frameSeq = 0;
    try {
      const info = await session.info;
      run.onInfo?.(info);
      await this.status(
        { streamId, state: 'started', source, hasAudio: info.hasAudio, hasVideo: info.hasVideo },
        headers,
      );
      const audio = async () => {
        for await (const chunk of session.audio()) {
          const startSec = offset + chunk.startSec;
          await this.bus.publish(
            Topics.audio,
            streamId,
            {
              streamId,
              seq: audioSeq++,
              startSec,
              sampleRate: this.options.audio.sampleRate,
              samples: chunk.samples,
            },
            headers,
          );
          run.onProgress?.(startSec + chunk.samples.length / this.options.audio.sampleRate);
        }
      };
      const video = async () => {
        for await (const frame of session.video()) {
          const message: VideoFrame = {
            streamId,
            seq: frameSeq++,
            ptsSec: offset + frame.ptsSec,
            width: frame.width,
            height: frame.height,
            pixels: frame.pixels,
            pixelFormat: this.options.video.pixelFormat,
            geometry: frame.geometry,
          };
          await this.bus.publish(Topics.video, streamId, message, headers);
          run.onProgress?.(message.ptsSec);
        }
      };
      await Promise.all([audio(), video()]);
      const summary = await session.done;
      const decodedSec = Math.max(summary.audioSec, summary.videoFrames / videoOptions.fps);
      await this.close(
        streamId,
        {
          streamId,
          state: 'ended',
          source,
          hasAudio: info.hasAudio,
          hasVideo: info.hasVideo,
          decodedSec: offset + decodedSec,
          truncated: summary.truncated,
          ...(summary.truncated
            ? { reason: summary.warnings.join('; ') || 'input was cut short' }
            : {}),
        },
        headers,
      );
      return { info, summary, decodedSec };
    } catch (error) {
      await session.stop();
      if (run.closeStream ?? true) {
        // Stopped on purpose is an end, not a failure.
        const status: StreamStatus = run.signal?.aborted
          ? { streamId, state: 'ended', source, reason: 'stopped' }
          : { streamId, state: 'failed', source, reason: (error as Error).message };
        await this.close(streamId, status, headers);
      }
      throw error;
    }
  }

  /** Ends a stream downstream: end markers on both media topics, then its final status. */
  async close(streamId: string, status: StreamStatus, headers: Headers = {}): Promise<void> {
    await this.bus.publish(
      Topics.audio,
      streamId,
      {
        streamId,
        seq: 0,
        startSec: 0,
        sampleRate: this.options.audio.sampleRate,
        samples: new Float32Array(0),
        final: true,
      },
      headers,
    );
    await this.bus.publish(
      Topics.video,
      streamId,
      {
        streamId,
        seq: 0,
        ptsSec: 0,
        width: 0,
        height: 0,
        pixels: new Uint8Array(0),
        pixelFormat: this.options.video.pixelFormat,
        geometry: { sourceWidth: 0, sourceHeight: 0, scaleX: 1, scaleY: 1, padX: 0, padY: 0 },
        final: true,
      },
      headers,
    );
    await this.status(status, headers);
  }

  status(status: StreamStatus, headers: Headers = {}): Promise<void> {
    return this.bus.publish(Topics.streamStatus, status.streamId, status, headers);
  }
}
