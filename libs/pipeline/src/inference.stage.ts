import { performance } from 'node:perf_hooks';
import type { Bus, BusMessage, Release, Subscription } from '@app/bus';
import { type AudioFeatureWindow, type Detection, type VideoFrame, Topics } from '@app/contracts';
import type { WindowContextBuilder } from '@app/dsp';
import type { ClassDecider, ClassScore, Precision } from '@app/models';
import { MicroBatcher } from './micro-batcher';
import {
  type AudioClassifier,
  type AudioInput,
  type FrameDetector,
  Groups,
  NO_METRICS,
  type PipelineMetrics,
} from './pipeline.ports';
import { ReplayFilter } from './replay.filter';
import { LIVE_FRAME_HEADER } from './stream-headers';

export interface InferenceStageOptions {
  /** Audio windows run together when they queue up (the audio model's batch axis is dynamic). */
  maxAudioBatch?: number;
  /** Named in the `x-vigil-inference` header of every set: which replica did the work. */
  instanceId?: string;
  /** Latency bound of live streams; see LiveFrameOptions. */
  liveFrames?: LiveFrameOptions;
  metrics?: PipelineMetrics;
  /**
   * The key a stream's detections are published under: its site's for cameras of a site
   * (SiteDirectory.detectionKey), so fusion sees a site's cameras on one partition, in one
   * order; the stream id when unset.
   */
  detectionKey?: (streamId: string) => string;
  /**
   * Keep the windows a stream's audio state depends on uncommitted (see `held`), so whoever
   * reads the partition next rebuilds that state: on by default. A single process turns it off:
   * its in-memory bus dies with the stage, so holding would only keep 30 s of every stream's
   * windows in memory for a restart that cannot happen.
   */
  holdStreamState?: boolean;
  /** Wall clock of idle-stream housekeeping (and of live frames unless they name their own). */
  now?: () => number;
}

/**
 * A live frame (one with LIVE_FRAME_HEADER) waits for the detector at most this long: when the
 * detector falls behind, a frame is dropped if a newer frame of its stream already waits behind
 * it (where the bus can tell) or if it was published more than `maxAgeMs` ago, so a live stream
 * stays near real time instead of queueing stale frames. Files carry no such header and keep
 * every frame; audio is never dropped.
 */
export interface LiveFrameOptions {
  maxAgeMs: number;
  /** Wall clock, compared with the time ingest stamped; Date.now when left out. */
  now?: () => number;
}

export const DEFAULT_LIVE_FRAME_MAX_AGE_MS = 1000;

/** Why a live frame was dropped before the detector. */
export type FrameDropReason = 'superseded' | 'stale';

/** Frames seen and frames the detector skipped because nothing moved. */
export interface GatingStats {
  frames: number;
  skipped: number;
}

export const INFERENCE_INSTANCE_HEADER = 'x-vigil-inference';

/** Streams whose last undetected picture one replica keeps (a model-sized frame each, 0.5 MB). */
const MAX_UNDETECTED = 256;

/**
 * Streams whose audio state one replica keeps at most: decisions over time (a few KiB) and, when
 * a class reads a longer context, that context (melBins x contextFrames floats: 100 KiB for 2 s).
 */
const MAX_DECIDERS = 4096;

/**
 * A stream whose windows stopped reaching this replica this long ago lets go of its audio state
 * and the windows it holds: its end marker will not come here (its ingest gave up without one,
 * or its partition moved). Holding on would pin its partition's commits behind it for good.
 */
const IDLE_STREAM_MS = 60_000;

/** What one stream's audio needs remembered between windows. */
interface AudioStreamState {
  decider: ClassDecider;
  context?: WindowContextBuilder;
  /**
   * Windows the decider's memory or the context still depends on, oldest first, kept
   * uncommitted: after a restart they are read again and rebuild both (their sets go out again;
   * fusion drops them as replays). Only their place is kept, not their features.
   */
  held: { startSec: number; frames: number; release: Release }[];
  /** Wall-clock time its latest window arrived. */
  heardAt: number;
}

/**
 * Features and frames → detection sets. A set is published for every window and frame, even an
 * empty one, because fusion needs to know what each modality has covered.
 */
export class InferenceStage {
  private readonly subscriptions: Subscription[] = [];
  private readonly audioBatcher: MicroBatcher<AudioInput, ClassScore[]>;
  /**
   * Decisions over time and longer contexts need each stream's recent windows; forgotten at the
   * stream's end. A stream's windows reach one replica in order (they share a partition key).
   * The windows that state depends on stay uncommitted (`held`), so whoever reads the partition
   * next, this replica after a restart or another after a rebalance, rebuilds it from them.
   */
  private readonly audioStreams = new Map<string, AudioStreamState>();
  /** Windows and frames published again upstream (after a restart) were decided already. */
  private readonly audioSeen = new ReplayFilter(MAX_DECIDERS);
  private readonly videoSeen = new ReplayFilter(MAX_DECIDERS);
  private readonly instance: Record<string, string>;
  /** Per stream: what the detector last saw, which a still frame (see VideoFrame) carries on. */
  private readonly lastBoxes = new Map<string, Detection[]>();
  /**
   * Per stream: the latest live frame with pixels that was dropped undetected. A still frame
   * after it shows that very picture (nothing moved since), so the detector runs on it then.
   * Without this a still frame would supersede the moving frame before it, and carry boxes
   * older than what moved. Bounded: an evicted picture only means the older boxes are carried.
   */
  private readonly undetected = new Map<string, VideoFrame>();
  private readonly stats: GatingStats = { frames: 0, skipped: 0 };
  private readonly metrics: PipelineMetrics;
  /** Live frames dropped per stream (kept after its end for whoever reports on it; bounded). */
  private readonly drops = new Map<string, number>();
  private readonly live: Required<LiveFrameOptions>;

  constructor(
    private readonly bus: Bus,
    private readonly audio: AudioClassifier | undefined,
    private readonly video: FrameDetector | undefined,
    private readonly options: InferenceStageOptions = {},
  ) {
    this.instance = options.instanceId ? { [INFERENCE_INSTANCE_HEADER]: options.instanceId } : {};
    this.metrics = options.metrics ?? NO_METRICS;
    this.live = {
      maxAgeMs: options.liveFrames?.maxAgeMs ?? DEFAULT_LIVE_FRAME_MAX_AGE_MS,
      now: options.liveFrames?.now ?? options.now ?? Date.now,
    };
    this.audioBatcher = new MicroBatcher(
      (windows) =>
        this.timed('audio', this.audio!, windows.length, () => this.audio!.score(windows)),
      options.maxAudioBatch ?? 16,
    );
  }

  async start(): Promise<void> {
    this.subscriptions.push(
      await this.bus.subscribe(Topics.features, Groups.inference, (m) => this.onWindow(m)),
      await this.bus.subscribe(Topics.video, Groups.inference, (m) => this.onFrame(m)),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((s) => s.close()));
  }

  private async onWindow(message: BusMessage<AudioFeatureWindow>) {
    const { value: window, headers } = message;
    if (window.final) this.audioSeen.forget(window.streamId);
    else if (!this.audioSeen.isNew(window.streamId, window.startSec)) return;
    const detections = window.final || !this.audio ? [] : await this.classify(message);
    if (window.final) this.forgetAudio(window.streamId);
    await this.bus.publish(
      Topics.detections,
      this.keyOf(window.streamId),
      {
        streamId: window.streamId,
        modality: 'audio',
        seq: window.seq,
        startSec: window.startSec,
        endSec: window.endSec,
        atSec: window.peakSec,
        model: this.audio?.name ?? 'none',
        detections,
        ...(window.final ? { final: true } : {}),
      },
      { ...headers, ...this.instance },
    );
  }

  private keyOf(streamId: string): string {
    return this.options.detectionKey?.(streamId) ?? streamId;
  }

  private async classify(message: BusMessage<AudioFeatureWindow>) {
    const window = message.value;
    const state = this.audioStateOf(window.streamId);
    // Extended before the await: the next window of the stream may arrive while this one waits.
    const context = state.context?.extend(window);
    const memory = state.decider.memoryWindows;
    if (this.options.holdStreamState !== false && (memory > 0 || state.context)) {
      const { startSec, frames } = window;
      state.held.push({ startSec, frames, release: message.hold() });
      const { held } = state;
      while (held.length > memory && !state.context?.holds(held[0]!)) held.shift()!.release();
    }
    const { data, frames, yamnetPatch, pcm16k } = window;
    const scores = await this.audioBatcher.submit({ data, frames, context, yamnetPatch, pcm16k });
    return state.decider.decide(window.peakSec, scores);
  }

  private audioStateOf(streamId: string): AudioStreamState {
    const now = (this.options.now ?? Date.now)();
    // Least recently heard first (re-inserted below), so the idle ones are at the front.
    for (const [id, idle] of this.audioStreams) {
      if (now - idle.heardAt < IDLE_STREAM_MS) break;
      this.forgetAudio(id);
    }
    let state = this.audioStreams.get(streamId);
    if (state) this.audioStreams.delete(streamId);
    else {
      // Bound what streams that went elsewhere without an end leave behind.
      if (this.audioStreams.size >= MAX_DECIDERS) {
        this.forgetAudio(this.audioStreams.keys().next().value!);
      }
      const audio = this.audio!;
      state = { decider: audio.decider(), context: audio.context?.(), held: [], heardAt: now };
    }
    state.heardAt = now;
    this.audioStreams.set(streamId, state);
    return state;
  }

  private forgetAudio(streamId: string): void {
    for (const { release } of this.audioStreams.get(streamId)?.held ?? []) release();
    this.audioStreams.delete(streamId);
  }

  /** How much work motion gating saved so far. */
  gatingStats(): GatingStats {
    return { ...this.stats };
  }

  /** Live frames of this stream dropped before the detector so far (on this replica). */
  droppedFrames(streamId: string): number {
    return this.drops.get(streamId) ?? 0;
  }

  private async onFrame(message: BusMessage<VideoFrame>) {
    const { value: frame } = message;
    const { [LIVE_FRAME_HEADER]: liveMs, ...headers } = message.headers;
    if (frame.final) this.videoSeen.forget(frame.streamId);
    else if (!this.videoSeen.isNew(frame.streamId, frame.ptsSec)) return;
    if (!frame.final && liveMs !== undefined) {
      const reason = this.dropReason(message, Number(liveMs));
      // No set goes out for a dropped frame: fusion counts a modality as covered up to the
      // latest set it got, so the next frame's set covers the gap.
      if (reason) return this.drop(frame, reason);
    }
    const detections = frame.final || !this.video ? [] : await this.detectGated(frame);
    if (frame.final) {
      this.lastBoxes.delete(frame.streamId);
      this.undetected.delete(frame.streamId);
    }
    await this.bus.publish(
      Topics.detections,
      this.keyOf(frame.streamId),
      {
        streamId: frame.streamId,
        modality: 'video',
        seq: frame.seq,
        startSec: frame.ptsSec,
        endSec: frame.ptsSec,
        atSec: frame.ptsSec,
        model: this.video?.name ?? 'none',
        detections,
        ...(frame.final ? { final: true } : {}),
      },
      { ...headers, ...this.instance },
    );
  }

  private dropReason(message: BusMessage<VideoFrame>, liveMs: number): FrameDropReason | undefined {
    if (message.superseded?.()) return 'superseded';
    if (this.live.now() - liveMs > this.live.maxAgeMs) return 'stale';
    return undefined;
  }

  private drop(frame: VideoFrame, reason: FrameDropReason): void {
    const { streamId } = frame;
    if (!frame.still) remember(this.undetected, streamId, ownedFrame(frame), MAX_UNDETECTED);
    remember(this.drops, streamId, (this.drops.get(streamId) ?? 0) + 1, MAX_DECIDERS);
    this.metrics.frameDropped(reason);
  }

  private async detectGated(frame: VideoFrame): Promise<Detection[]> {
    const { streamId } = frame;
    this.stats.frames++;
    const picture = frame.still ? this.undetected.get(streamId) : frame;
    this.undetected.delete(streamId);
    if (!picture) {
      this.stats.skipped++;
      this.metrics.detectorFrame('skipped');
      // Nothing moved: what was in view is still there, boxes and all. A replica that never saw
      // this stream's last moving frame (a restart, a rebalance) knows none until the next one,
      // at most the gate's forceEverySec away.
      return this.lastBoxes.get(streamId) ?? [];
    }
    const detections = await this.runDetector(picture);
    remember(this.lastBoxes, streamId, detections, MAX_DECIDERS);
    return detections;
  }

  private runDetector(frame: VideoFrame): Promise<Detection[]> {
    this.metrics.detectorFrame('run');
    return this.timed('video', this.video!, 1, () => this.video!.detect(frame));
  }

  private async timed<T>(
    modality: 'audio' | 'video',
    model: { name: string; precision?: Precision },
    items: number,
    call: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.metrics.inference(modality, model.name, seconds, items, model.precision ?? 'fp32');
    }
  }
}

/** Sets a stream's entry as the most recent one, evicting the least recent beyond `max`. */
function remember<T>(map: Map<string, T>, streamId: string, value: T, max: number): void {
  map.delete(streamId);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(streamId, value);
}

/** The frame with pixels of its own: a view into a larger buffer (a Kafka batch) would keep it all. */
function ownedFrame(frame: VideoFrame): VideoFrame {
  const { pixels } = frame;
  return pixels.byteLength === pixels.buffer.byteLength
    ? frame
    : { ...frame, pixels: pixels.slice() };
}
