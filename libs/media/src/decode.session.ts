import type { FrameGeometry } from '@app/contracts';
import type { Readable } from 'node:stream';
import { BannerParser } from './banner.parser';
import { ChunkAssembler } from './chunk.assembler';
import type {
  AudioOutputOptions,
  DecodedAudio,
  DecodedFrame,
  DecodeSession,
  DecodeSummary,
  MediaInfo,
  VideoOutputOptions,
} from './decode.contract';
import {
  AUDIO_FD,
  buildDecodeArgs,
  decodesWithLowDelay,
  LIVE_PROBE_SEC,
  VIDEO_FD,
} from './decode-args.builder';
import { mapFfmpegFailure } from './ffmpeg-error.mapper';
import type { FfmpegExit, FfmpegProcess } from './ffmpeg.process';
import { frameGeometry } from './frame.geometry';
import { LatestValueSlot } from './latest-value.slot';
import { parseLogLine, type LogLevel } from './log-line.parser';
import { isMediaError, MediaError, MediaErrorCode } from './media.error';
import type { ResolvedSource } from './source.resolver';
import { WarningCollector } from './warning.collector';

type Output = 'audio' | 'video';

/** What the session needs to run ffmpeg once; the decoder binds binary, spawner and clock. */
export type ProcessFactory = (
  args: string[],
  dataFds: number[],
  onStderrLine: (line: string) => void,
) => FfmpegProcess;

export interface SessionPlan {
  /** Redacted source, for messages. */
  label: string;
  /** Absent when a check before spawning failed: then `preflightError` says why. */
  source?: ResolvedSource;
  preflightError?: MediaError;
  audio?: AudioOutputOptions;
  video?: VideoOutputOptions;
  live: boolean;
  networkTimeoutMs: number;
  /** Where in the source decoding starts (a seek); 0 or absent: at its start. */
  startSec?: number;
  signal?: AbortSignal;
}

interface Attempt {
  process: FfmpegProcess;
  outputs: Record<Output, boolean>;
  banner: BannerParser;
  warnings: WarningCollector;
  lastLevel: LogLevel;
  /** A live source analysed for a second instead of ffmpeg's 5: it may come out undescribed. */
  briefProbe: boolean;
  /** The input lacks a stream this attempt asked for: ffmpeg will refuse, run again with these. */
  retryWith?: Record<Output, boolean>;
}

/** How a consumer's reading of one output ended. */
type ReadState = 'unread' | 'reading' | 'ended' | 'abandoned';

/**
 * At most one rerun for streams: the first run's banner tells exactly which exist. A brief live
 * probe that left the input undescribed earns one more, with ffmpeg's full probe.
 */
const MAX_ATTEMPTS = 2;
/** Allowed shortfall before a decode counts as truncated: encoder delay, rounding to whole frames. */
const TRUNCATION_TOLERANCE_SEC = 0.5;
const TRUNCATION_TOLERANCE_RATIO = 0.02;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may never look at a promise (e.g. `info` after a failure); that must not crash Node.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Runs one decode: validates nothing itself (the plan carries the resolved source), spawns
 * ffmpeg with both outputs, learns from its banner which streams exist, reruns once without an
 * output the input cannot feed, and turns pipes into exact PCM chunks and frames.
 */
export class FfmpegDecodeSession implements DecodeSession {
  readonly info: Promise<MediaInfo>;
  readonly done: Promise<DecodeSummary>;

  private readonly infoResult = deferred<MediaInfo>();
  private readonly doneResult = deferred<DecodeSummary>();
  /** Settles when the decoding process ended: undefined = fine, else why not. */
  private readonly outcome = deferred<MediaError | undefined>();
  private readonly routes: Record<Output, ReturnType<typeof deferred<Readable | null>>> = {
    audio: deferred<Readable | null>(),
    video: deferred<Readable | null>(),
  };
  private readonly reads: Record<Output, ReadState> = { audio: 'unread', video: 'unread' };
  private readonly iterated = new Set<Output>();
  private attempt?: Attempt;
  private attempts = 0;
  private fullProbe = false;
  private confirmed?: Attempt;
  private mediaInfo?: MediaInfo;
  private geometry?: FrameGeometry;
  private liveFrames?: LatestValueSlot<DecodedFrame>;
  private failure?: MediaError;
  private stopRequested = false;
  private stopping?: Promise<void>;
  private settled = false;
  private exitedCleanly = false;
  private audioSamples = 0;
  private framesProduced = 0;
  private framesDelivered = 0;
  private readonly notes: string[] = [];
  private readonly onAbort = () =>
    this.fail(
      MediaError.about(MediaErrorCode.ABORTED, this.label, 'the caller cancelled the decode'),
    );

  constructor(
    private readonly plan: SessionPlan,
    private readonly startProcess: ProcessFactory,
  ) {
    this.info = this.infoResult.promise;
    this.done = this.doneResult.promise;
    this.start();
  }

  audio(): AsyncIterable<DecodedAudio> {
    return this.once('audio', () => this.readAudio());
  }

  video(): AsyncIterable<DecodedFrame> {
    return this.once('video', () => (this.plan.live ? this.readLiveVideo() : this.readVideo()));
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private get label(): string {
    return this.plan.label;
  }

  private start(): void {
    const { source, signal, preflightError } = this.plan;
    if (preflightError || !source) {
      return this.fail(
        preflightError ??
          MediaError.about(MediaErrorCode.SOURCE_NOT_FOUND, this.label, 'no source'),
      );
    }
    if (signal?.aborted) return this.onAbort();
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.spawn({ audio: this.plan.audio !== undefined, video: this.plan.video !== undefined });
  }

  private spawn(outputs: Record<Output, boolean>): void {
    const source = this.plan.source as ResolvedSource;
    this.attempts++;
    const args = buildDecodeArgs({
      source,
      audio: outputs.audio ? this.plan.audio : undefined,
      video: outputs.video ? this.plan.video : undefined,
      networkTimeoutMs: this.plan.networkTimeoutMs,
      live: this.plan.live,
      fullProbe: this.fullProbe,
      startSec: this.plan.startSec,
    });
    const fds = [...(outputs.audio ? [AUDIO_FD] : []), ...(outputs.video ? [VIDEO_FD] : [])];
    let attempt: Attempt | undefined;
    try {
      const process = this.startProcess(
        args,
        fds,
        (line) => attempt && this.onStderrLine(attempt, line),
      );
      attempt = {
        process,
        outputs,
        banner: new BannerParser(),
        warnings: new WarningCollector(),
        lastLevel: 'info',
        briefProbe: decodesWithLowDelay(source, this.plan.live) && !this.fullProbe,
      };
    } catch (error) {
      return this.fail(asMediaError(error, this.label));
    }
    this.attempt = attempt;
    const current = attempt;
    void current.process.exited.then((exit) => this.onExit(current, exit));
  }

  private onStderrLine(attempt: Attempt, raw: string): void {
    const entry = parseLogLine(raw, attempt.lastLevel);
    attempt.lastLevel = entry.level;
    attempt.warnings.push(entry);
    if (!attempt.banner.complete && attempt.banner.push(entry)) this.onBanner(attempt);
  }

  /** ffmpeg described the input and has not written any media yet. */
  private onBanner(attempt: Attempt): void {
    if (this.settled) return;
    const info = attempt.banner.info();
    const wanted = {
      audio: this.plan.audio !== undefined && info.hasAudio,
      video: this.plan.video !== undefined && info.hasVideo,
    };
    if (attempt.briefProbe && undescribed(info, wanted)) return this.probeAgain(attempt, wanted);
    if (!this.mediaInfo) {
      this.mediaInfo = info;
      this.infoResult.resolve(info);
    }
    if (!wanted.audio && !wanted.video) {
      return this.fail(
        MediaError.about(
          MediaErrorCode.UNSUPPORTED_INPUT,
          this.label,
          missingStreams(this.plan, info),
        ),
      );
    }
    if (wanted.audio !== attempt.outputs.audio || wanted.video !== attempt.outputs.video) {
      if (this.attempts >= MAX_ATTEMPTS + (this.fullProbe ? 1 : 0)) {
        return this.fail(
          MediaError.about(
            MediaErrorCode.DECODE_FAILED,
            this.label,
            'its streams changed between two opens',
          ),
        );
      }
      // ffmpeg is about to exit on "Output file does not contain any stream"; onExit reruns.
      attempt.retryWith = wanted;
      return;
    }
    if (wanted.video) {
      if (!info.width || !info.height) {
        return this.fail(
          MediaError.about(
            MediaErrorCode.DECODE_FAILED,
            this.label,
            'ffmpeg did not report the video frame size',
          ),
        );
      }
      this.geometry = frameGeometry(
        { width: info.width, height: info.height },
        this.plan.video as VideoOutputOptions,
      );
    }
    this.confirmed = attempt;
    this.routes.audio.resolve(wanted.audio ? attempt.process.dataPipe(AUDIO_FD) : null);
    const videoPipe = wanted.video ? attempt.process.dataPipe(VIDEO_FD) : null;
    if (videoPipe && this.plan.live) this.pumpLiveVideo(videoPipe);
    this.routes.video.resolve(videoPipe);
    for (const output of ['audio', 'video'] as const)
      if (!wanted[output]) this.reads[output] = 'ended';
  }

  /**
   * Joined between key frames, H.264 says its frame size only at the next one, which may come
   * after the brief probe ended; ffmpeg would decode on, but frames cannot be mapped back to the
   * source without it. Reopen once and probe as long as ffmpeg does by default.
   */
  private probeAgain(attempt: Attempt, wanted: Record<Output, boolean>): void {
    this.fullProbe = true;
    const found = wanted.audio || wanted.video;
    attempt.retryWith = found
      ? wanted
      : { audio: this.plan.audio !== undefined, video: this.plan.video !== undefined };
    this.notes.push(
      `a ${LIVE_PROBE_SEC} s probe left the input undescribed (${found ? 'no frame size' : 'no stream'}); it was reopened with ffmpeg's full probe`,
    );
    void attempt.process.kill();
  }

  private onExit(attempt: Attempt, exit: FfmpegExit): void {
    if (attempt !== this.attempt) return;
    if (this.settled) return this.outcome.resolve(this.failure);
    if (this.stopRequested) return;
    if (attempt.retryWith && !exit.failure) return this.spawn(attempt.retryWith);
    if (exit.failure) return this.fail(exit.failure);
    const source = this.plan.source as ResolvedSource;
    const clean = exit.code === 0 && exit.signal === null;
    // Everything was read or abandoned and we asked ffmpeg to quit: not a failure.
    const quitByUs = exit.killed && this.allOutputsFinished();
    if (!clean && !quitByUs) {
      return this.fail(
        mapFfmpegFailure({
          label: this.label,
          input: source.input,
          code: exit.code,
          signal: exit.signal,
          stderrTail: exit.stderrTail,
        }),
      );
    }
    if (!attempt.banner.complete || attempt !== this.confirmed) {
      return this.fail(
        MediaError.about(
          MediaErrorCode.DECODE_FAILED,
          this.label,
          'ffmpeg ended without describing the input',
          exit.stderrTail,
        ),
      );
    }
    this.exitedCleanly = true;
    this.outcome.resolve(undefined);
    this.maybeComplete();
  }

  private fail(error: MediaError): void {
    if (this.settled) return;
    this.settled = true;
    this.failure = error;
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    this.infoResult.reject(error);
    this.routes.audio.reject(error);
    this.routes.video.reject(error);
    this.doneResult.reject(error);
    this.liveFrames?.close();
    const process = this.attempt?.process;
    if (process?.running) void process.kill();
    else this.outcome.resolve(error);
  }

  private async doStop(): Promise<void> {
    this.stopRequested = true;
    const process = this.attempt?.process;
    if (!this.settled) {
      this.settled = true;
      this.plan.signal?.removeEventListener('abort', this.onAbort);
      const stopped = MediaError.about(
        MediaErrorCode.ABORTED,
        this.label,
        'stopped before ffmpeg described the input',
      );
      this.infoResult.reject(stopped);
      this.routes.audio.resolve(null);
      this.routes.video.resolve(null);
      this.liveFrames?.close();
      if (process?.running) await process.kill();
      this.outcome.resolve(undefined);
      this.doneResult.resolve(this.summary(true));
    } else if (process?.running) {
      await process.kill();
    }
  }

  /** Both outputs are read or abandoned and ffmpeg is gone: the run is complete. */
  private maybeComplete(): void {
    if (this.settled || !this.exitedCleanly || !this.allOutputsFinished()) return;
    this.settled = true;
    this.plan.signal?.removeEventListener('abort', this.onAbort);
    this.doneResult.resolve(this.summary(false));
  }

  private allOutputsFinished(): boolean {
    return (['audio', 'video'] as const).every(
      (o) => this.reads[o] === 'ended' || this.reads[o] === 'abandoned',
    );
  }

  /**
   * A consumer broke out early. Closing the pipe would make ffmpeg end the other output too, so
   * the rest is drained and discarded, until nobody reads anything: then ffmpeg is told to quit.
   */
  private abandon(output: Output, pipe?: Readable): void {
    this.reads[output] = 'abandoned';
    const process = this.attempt?.process;
    if (this.allOutputsFinished() && process?.running) void process.kill();
    else pipe?.resume();
    this.maybeComplete();
  }

  private finishRead(output: Output): void {
    if (this.reads[output] === 'reading') this.reads[output] = 'ended';
    this.maybeComplete();
  }

  private once<T>(output: Output, read: () => AsyncGenerator<T>): AsyncIterable<T> {
    return {
      [Symbol.asyncIterator]: () => {
        if (this.iterated.has(output))
          throw new Error(`${output}() of a decode session can be iterated only once`);
        this.iterated.add(output);
        return read();
      },
    };
  }

  private async *readAudio(): AsyncGenerator<DecodedAudio> {
    const spec = this.plan.audio;
    const pipe = spec && (await this.route('audio'));
    if (!spec || !pipe) return;
    const assembler = new ChunkAssembler(spec.chunkSamples * 4);
    let index = 0;
    const chunk = (bytes: Uint8Array): DecodedAudio => {
      const samples = toFloat32(bytes);
      const decoded = {
        index: index++,
        startSec: this.audioSamples / spec.sampleRate,
        sampleRate: spec.sampleRate,
        samples,
      };
      this.audioSamples += samples.length;
      return decoded;
    };
    yield* this.readRecords('audio', pipe, assembler, chunk, (tail) => {
      // ffmpeg writes whole samples; a ragged tail means the pipe broke mid-sample.
      const whole = tail.subarray(0, tail.length - (tail.length % 4));
      return whole.length > 0 ? chunk(whole) : undefined;
    });
  }

  private async *readVideo(): AsyncGenerator<DecodedFrame> {
    const spec = this.plan.video;
    const pipe = spec && (await this.route('video'));
    if (!spec || !pipe) return;
    const assembler = new ChunkAssembler(spec.width * spec.height * 3);
    yield* this.readRecords(
      'video',
      pipe,
      assembler,
      (pixels) => {
        this.framesDelivered++;
        return this.frame(pixels);
      },
      (tail) => {
        this.notes.push(`an incomplete last frame (${tail.length} bytes) was discarded`);
        return undefined;
      },
    );
  }

  /** Paused-mode reading: when the consumer is slow the pipe fills and ffmpeg waits. */
  private async *readRecords<T>(
    output: Output,
    pipe: Readable,
    assembler: ChunkAssembler,
    toItem: (record: Uint8Array) => T,
    toLastItem: (tail: Uint8Array) => T | undefined,
  ): AsyncGenerator<T> {
    this.reads[output] = 'reading';
    let finished = false;
    try {
      // destroyOnReturn false: an early break must not close the pipe, which would end ffmpeg's other output too.
      for await (const data of pipe.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        for (const record of assembler.push(data)) yield toItem(record);
      }
      const tail = assembler.flush();
      const last = tail && toLastItem(tail);
      if (last !== undefined) yield last;
      finished = true;
    } catch (error) {
      finished = true;
      this.reads[output] = 'ended';
      await this.raiseFailure(error);
      return;
    } finally {
      if (!finished) this.abandon(output, pipe);
    }
    this.finishRead(output);
    await this.raiseFailure();
  }

  /** Live: read as fast as ffmpeg writes, keep the newest complete frame, count the rest as dropped. */
  private pumpLiveVideo(pipe: Readable): void {
    const spec = this.plan.video as VideoOutputOptions;
    const slot = new LatestValueSlot<DecodedFrame>();
    const assembler = new ChunkAssembler(spec.width * spec.height * 3);
    this.liveFrames = slot;
    pipe.on('data', (data: Buffer) => {
      for (const record of assembler.push(data)) slot.put(this.frame(record));
    });
    pipe.once('close', () => slot.close());
    pipe.once('end', () => slot.close());
  }

  private async *readLiveVideo(): AsyncGenerator<DecodedFrame> {
    const pipe = this.plan.video && (await this.route('video'));
    const slot = this.liveFrames;
    if (!pipe || !slot) return;
    this.reads.video = 'reading';
    let finished = false;
    try {
      for (let next = await slot.take(); next; next = await slot.take()) {
        this.framesDelivered++;
        yield next.item;
      }
      finished = true;
    } finally {
      // Frames keep flowing into the slot and being replaced: nothing blocks, nothing piles up.
      if (!finished) this.abandon('video');
    }
    this.finishRead('video');
    await this.raiseFailure();
  }

  private frame(pixels: Uint8Array): DecodedFrame {
    const spec = this.plan.video as VideoOutputOptions;
    const index = this.framesProduced++;
    return {
      index,
      ptsSec: index / spec.fps,
      width: spec.width,
      height: spec.height,
      pixelFormat: spec.pixelFormat,
      pixels,
      geometry: this.geometry as FrameGeometry,
    };
  }

  private async route(output: Output): Promise<Readable | null> {
    try {
      return await this.routes[output].promise;
    } catch (error) {
      throw asMediaError(error, this.label);
    }
  }

  /**
   * At the end of a pipe (or when it broke) the process outcome decides: a stop ends quietly,
   * a failure is thrown to the reader.
   */
  private async raiseFailure(pipeError?: unknown): Promise<void> {
    const failure = await this.outcome.promise;
    if (this.stopRequested && !this.failure) return;
    if (failure) throw failure;
    if (pipeError !== undefined) throw asMediaError(pipeError, this.label);
  }

  private summary(stopped: boolean): DecodeSummary {
    const warnings = [...this.notes, ...(this.confirmed?.warnings.warnings() ?? [])];
    let truncated = false;
    if (!stopped && this.confirmed) {
      const declared = this.mediaInfo?.durationSec;
      const decoded = this.decodedSeconds();
      const reached = decoded === undefined ? undefined : (this.plan.startSec ?? 0) + decoded;
      const tolerance = Math.max(
        TRUNCATION_TOLERANCE_SEC,
        (declared ?? 0) * TRUNCATION_TOLERANCE_RATIO,
      );
      if (
        declared !== undefined &&
        reached !== undefined &&
        !this.plan.live &&
        reached < declared - tolerance
      ) {
        truncated = true;
        warnings.unshift(
          `decoded ${reached.toFixed(2)} s of the ${declared.toFixed(2)} s the container declares: the input looks truncated`,
        );
      } else if (this.confirmed.warnings.truncationReported) {
        truncated = true;
        warnings.unshift('ffmpeg reported partial data: the input looks truncated');
      }
    }
    return {
      audioSec: this.plan.audio ? this.audioSamples / this.plan.audio.sampleRate : 0,
      videoFrames: this.framesDelivered,
      droppedFrames: this.liveFrames?.dropped ?? 0,
      truncated,
      warnings,
      stopped,
    };
  }

  /** The longest stretch an output covered, counting only outputs read to their end. */
  private decodedSeconds(): number | undefined {
    const covered: number[] = [];
    if (this.confirmed?.outputs.audio && this.reads.audio === 'ended' && this.plan.audio) {
      covered.push(this.audioSamples / this.plan.audio.sampleRate);
    }
    if (this.confirmed?.outputs.video && this.reads.video === 'ended' && this.plan.video) {
      covered.push(this.framesProduced / this.plan.video.fps);
    }
    return covered.length > 0 ? Math.max(...covered) : undefined;
  }
}

function toFloat32(bytes: Uint8Array): Float32Array {
  if (!LITTLE_ENDIAN) {
    // f32le on a big-endian host: swap each sample in place (the record is ours).
    for (let i = 0; i + 3 < bytes.length; i += 4) {
      [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] = [
        bytes[i + 3],
        bytes[i + 2],
        bytes[i + 1],
        bytes[i],
      ];
    }
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

/** What a brief probe may leave out that the full one would have found. */
function undescribed(info: MediaInfo, wanted: Record<Output, boolean>): boolean {
  if (!wanted.audio && !wanted.video) return true;
  return wanted.video && (!info.width || !info.height);
}

function missingStreams(plan: SessionPlan, info: MediaInfo): string {
  if (plan.audio && plan.video) return 'it has neither an audio nor a video stream';
  return plan.audio
    ? `it has no audio stream${info.hasVideo ? ' (video only)' : ''}`
    : `it has no video stream${info.hasAudio ? ' (audio only)' : ''}`;
}

function asMediaError(error: unknown, label: string): MediaError {
  if (isMediaError(error)) return error;
  return MediaError.about(
    MediaErrorCode.DECODE_FAILED,
    label,
    error instanceof Error ? error.message : String(error),
  );
}
