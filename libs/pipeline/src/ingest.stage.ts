import type { Bus, Headers } from '@app/bus';
import { type StreamStatus, type VideoFrame, Topics } from '@app/contracts';
import {
  type AudioOutputOptions,
  type DecodeSession,
  type DecodeSummary,
  type MediaDecoder,
  type MediaInfo,
  type VideoOutputOptions,
  redactUrl,
} from '@app/media';
import type { IngestPacer } from './downstream.pacer';
import { MotionGate, type MotionGateOptions } from './motion.gate';
import { CAPTURE_EPOCH_HEADER, LIVE_FRAME_HEADER } from './stream-headers';

export interface IngestStageOptions {
  audio: AudioOutputOptions;
  /**
   * Audio chunk size of live runs, when it differs from `audio.chunkSamples`: smaller chunks let
   * a window that just completed go out sooner. Files keep `audio.chunkSamples` (resume points,
   * checkpoints and message counts are counted in it).
   */
  liveChunkSamples?: number;
  video: VideoOutputOptions;
  stallTimeoutMs?: number;
  /**
   * Stream seconds between checkpoints: 'started' statuses whose decodedSec says up to where
   * every chunk and frame is published, so an ingest that takes the stream over resumes there.
   * Off when left out (one process, nobody to take over).
   */
  checkpointSec?: number;
  /** Wall clock of live runs' stamps (CAPTURE_EPOCH_HEADER, LIVE_FRAME_HEADER); Date.now when left out. */
  now?: () => number;
  /**
   * Holds a file back while downstream lags (the Kafka deployment: the broker holds seconds of a
   * file, not all of it). Live runs are never paced. In one process the bus's capacity does it.
   */
  pacer?: IngestPacer;
  /**
   * Motion gating: a frame where nothing moved (or not for `forceEverySec`) goes out `still`,
   * without its pixels, and the detector keeps its last boxes for it. Decided here, before the
   * bus, so still frames cost neither the broker nor the consumers their bytes. Off when unset.
   */
  motion?: MotionGateOptions;
}

const NO_PIXELS = new Uint8Array(0);

/**
 * Abort reason of a run stopped without ending its stream: another ingest takes it over (a
 * rebalance, a shutdown), so no end marker and no final status go out.
 */
export const HANDED_OVER = 'handed-over';

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
   * A file taken over mid-way: decoding starts at this time of the file (on the stage's grid,
   * see resumePoint) and chunks and frames continue the timeline of a run from its start, with
   * the same times, seqs and samples, so everything downstream identifies them as before.
   */
  resumeAtSec?: number;
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

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Where a file can be taken up at or before `sec` so that its chunks and frames fall on the
   * times of a run from its start: a whole number of chunks that is also a whole number of
   * frame intervals.
   */
  resumePoint(sec: number, fps = this.options.video.fps): number {
    const grid = this.gridSec(fps);
    return Math.max(0, Math.floor(sec / grid + 1e-9) * grid);
  }

  async run(run: IngestRun): Promise<IngestResult> {
    const { streamId } = run;
    const headers = run.headers ?? {};
    const offset = run.timeOffsetSec ?? 0;
    const source = redactUrl(run.source);
    const videoOptions = run.fps ? { ...this.options.video, fps: run.fps } : this.options.video;
    const audioOptions =
      run.live && this.options.liveChunkSamples
        ? { ...this.options.audio, chunkSamples: this.options.liveChunkSamples }
        : this.options.audio;
    const chunkSec = audioOptions.chunkSamples / audioOptions.sampleRate;
    // A resumed file starts one grid step early: ffmpeg's resampler settles on the first few
    // samples after a seek, and those chunks are dropped, so what goes out is bit-identical.
    const resumeAt =
      run.resumeAtSec === undefined ? 0 : this.resumePoint(run.resumeAtSec, videoOptions.fps);
    const seekSec = resumeAt > 0 ? Math.max(0, resumeAt - this.gridSec(videoOptions.fps)) : 0;
    const session = this.decoder.open({
      source: run.source,
      audio: run.audio === false ? false : audioOptions,
      video: run.video === false ? false : videoOptions,
      live: run.live,
      stallTimeoutMs: this.options.stallTimeoutMs,
      signal: run.signal,
      ...(seekSec > 0 ? { startSec: seekSec } : {}),
    });
    // `done` also rejects when an iterator fails; that failure is handled through the
    // iterator, so this copy of it must not surface as an unhandled rejection.
    session.done.catch(() => undefined);
    const firstAudioSeq = Math.round(seekSec / chunkSec);
    const firstFrameSeq = Math.round(seekSec * videoOptions.fps);
    // How far each modality is published (the next chunk's or frame's time): a checkpoint may
    // say no more than the lesser of the two, or a resume would leave a gap in the other.
    const reached = { audio: offset + resumeAt, video: offset + resumeAt };
    const pacer = run.live ? undefined : this.options.pacer;
    const info = await session.info.catch(async (error) => this.fail(run, session, error));
    // A live run's media carry its capture clock (fusion measures capture-to-incident latency
    // with it); the status messages need none. Media time t was captured no later than it
    // arrived, so arrival − t bounds media time 0 from above, and the least bound seen is the
    // best: the first chunks come late, in one burst after ffmpeg's probe.
    let mediaHeaders = headers;
    let epoch = Infinity;
    const captured = (endSec: number, at?: number): Headers => {
      if (!run.live) return headers;
      const bound = Math.round((at ?? this.now()) - endSec * 1000);
      if (bound < epoch) {
        epoch = bound;
        mediaHeaders = { ...headers, [CAPTURE_EPOCH_HEADER]: String(epoch) };
      }
      return mediaHeaders;
    };
    try {
      run.onInfo?.(info);
      const started = {
        streamId,
        state: 'started' as const,
        source,
        hasAudio: info.hasAudio,
        hasVideo: info.hasVideo,
      };
      await this.status(started, headers);
      let checkpointed = offset + resumeAt;
      const checkpoint = async () => {
        const every = this.options.checkpointSec;
        const safe = Math.min(reached.audio, reached.video);
        if (every === undefined || safe < checkpointed + every) return;
        checkpointed = safe;
        await this.status({ ...started, decodedSec: safe }, headers);
      };
      const audio = async () => {
        for await (const chunk of session.audio()) {
          const startSec = offset + seekSec + chunk.startSec;
          if (startSec < offset + resumeAt - 1e-6) continue;
          const endSec = startSec + chunk.samples.length / this.options.audio.sampleRate;
          await pacer?.admit(streamId, 'audio', startSec, run.signal);
          await this.bus.publish(
            Topics.audio,
            streamId,
            {
              streamId,
              seq: firstAudioSeq + chunk.index,
              startSec,
              sampleRate: this.options.audio.sampleRate,
              samples: chunk.samples,
            },
            captured(endSec),
          );
          reached.audio = endSec;
          run.onProgress?.(reached.audio);
          await checkpoint();
        }
        reached.audio = Infinity; // nothing more to wait for on this side
      };
      const video = async () => {
        // Per run: a reconnected or resumed stream starts with a fresh background.
        const gate = this.options.motion && new MotionGate(this.options.motion);
        for await (const frame of session.video()) {
          const ptsSec = offset + seekSec + frame.ptsSec;
          if (ptsSec < offset + resumeAt - 1e-6) continue;
          await pacer?.admit(streamId, 'video', ptsSec, run.signal);
          const message: VideoFrame = {
            streamId,
            seq: firstFrameSeq + frame.index,
            ptsSec,
            width: frame.width,
            height: frame.height,
            pixels: frame.pixels,
            pixelFormat: this.options.video.pixelFormat,
            geometry: frame.geometry,
          };
          if (gate && !gate.decide(message).run) {
            message.pixels = NO_PIXELS;
            message.still = true;
          }
          const at = run.live ? this.now() : 0;
          const frameHeaders = captured(ptsSec, at);
          await this.bus.publish(
            Topics.video,
            streamId,
            message,
            run.live ? { ...frameHeaders, [LIVE_FRAME_HEADER]: String(at) } : frameHeaders,
          );
          reached.video = ptsSec + 1 / videoOptions.fps;
          run.onProgress?.(message.ptsSec);
          await checkpoint();
        }
        reached.video = Infinity;
      };
      await Promise.all([audio(), video()]);
      const summary = await session.done;
      const decodedSec =
        seekSec + Math.max(summary.audioSec, summary.videoFrames / videoOptions.fps);
      const result = { info, summary, decodedSec };
      // A supervised live source that ended (a camera's server hung up) is reconnected by its
      // supervisor: the stream goes on downstream, so no end markers here.
      if (handedOver(run.signal) || run.closeStream === false) return result;
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
      return result;
    } catch (error) {
      return this.fail(run, session, error);
    }
  }

  private async fail(run: IngestRun, session: DecodeSession, error: unknown): Promise<never> {
    await session.stop();
    if ((run.closeStream ?? true) && !handedOver(run.signal)) {
      const { streamId } = run;
      const source = redactUrl(run.source);
      // Stopped on purpose is an end, not a failure.
      const status: StreamStatus = run.signal?.aborted
        ? { streamId, state: 'ended', source, reason: 'stopped' }
        : { streamId, state: 'failed', source, reason: (error as Error).message };
      await this.close(streamId, status, run.headers ?? {});
    }
    throw error;
  }

  /** The shortest step that is a whole number of chunks and of frame intervals (within 1000 chunks). */
  private gridSec(fps: number): number {
    const chunkSec = this.options.audio.chunkSamples / this.options.audio.sampleRate;
    for (let chunks = 1; chunks <= 1000; chunks++) {
      const frames = chunks * chunkSec * fps;
      if (Math.abs(frames - Math.round(frames)) < 1e-6) return chunks * chunkSec;
    }
    return chunkSec;
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

function handedOver(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason === HANDED_OVER;
}
