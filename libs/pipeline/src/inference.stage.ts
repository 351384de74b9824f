import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type AudioFeatureWindow, type VideoFrame, Topics } from '@app/contracts';
import type { ClassDecider, ClassScore } from '@app/models';
import { MicroBatcher } from './micro-batcher';
import { type AudioClassifier, type FrameDetector, Groups } from './pipeline.ports';
import { ReplayFilter } from './replay.filter';

export interface InferenceStageOptions {
  /** Audio windows run together when they queue up (the audio model's batch axis is dynamic). */
  maxAudioBatch?: number;
  /** Named in the `x-vigil-inference` header of every set: which replica did the work. */
  instanceId?: string;
}

export const INFERENCE_INSTANCE_HEADER = 'x-vigil-inference';

/** Streams whose decisions over time one replica keeps at most (a few KiB each). */
const MAX_DECIDERS = 4096;

/**
 * Features and frames → detection sets. A set is published for every window and frame, even an
 * empty one, because fusion needs to know what each modality has covered.
 */
export class InferenceStage {
  private readonly subscriptions: Subscription[] = [];
  private readonly audioBatcher: MicroBatcher<AudioFeatureWindow, ClassScore[]>;
  /** Decisions over time need each stream's recent windows; forgotten at the stream's end. */
  private readonly deciders = new Map<string, ClassDecider>();
  /** Windows and frames published again upstream (after a restart) were decided already. */
  private readonly audioSeen = new ReplayFilter(MAX_DECIDERS);
  private readonly videoSeen = new ReplayFilter(MAX_DECIDERS);
  private readonly instance: Record<string, string>;

  constructor(
    private readonly bus: Bus,
    private readonly audio: AudioClassifier | undefined,
    private readonly video: FrameDetector | undefined,
    options: InferenceStageOptions = {},
  ) {
    this.instance = options.instanceId ? { [INFERENCE_INSTANCE_HEADER]: options.instanceId } : {};
    this.audioBatcher = new MicroBatcher(
      (windows) => this.audio!.score(windows),
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

  private async onWindow({ value: window, headers }: BusMessage<AudioFeatureWindow>) {
    if (window.final) this.audioSeen.forget(window.streamId);
    else if (!this.audioSeen.isNew(window.streamId, window.startSec)) return;
    const detections =
      window.final || !this.audio
        ? []
        : this.deciderOf(window.streamId).decide(
            window.peakSec,
            await this.audioBatcher.submit(window),
          );
    if (window.final) this.deciders.delete(window.streamId);
    await this.bus.publish(
      Topics.detections,
      window.streamId,
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

  private deciderOf(streamId: string): ClassDecider {
    let decider = this.deciders.get(streamId);
    if (!decider) {
      // A stream that moved to another replica never sends its end here: bound what is left.
      if (this.deciders.size >= MAX_DECIDERS) {
        this.deciders.delete(this.deciders.keys().next().value!);
      }
      decider = this.audio!.decider();
      this.deciders.set(streamId, decider);
    }
    return decider;
  }

  private async onFrame({ value: frame, headers }: BusMessage<VideoFrame>) {
    if (frame.final) this.videoSeen.forget(frame.streamId);
    else if (!this.videoSeen.isNew(frame.streamId, frame.ptsSec)) return;
    const detections = frame.final || !this.video ? [] : await this.video.detect(frame);
    await this.bus.publish(
      Topics.detections,
      frame.streamId,
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
}
