import type { Detection, Modality, SecurityEvent, VideoFrame } from '@app/contracts';
import type { WindowContextBuilder } from '@app/dsp';
import type { ClassDecider, ClassScore, Precision } from '@app/models';

/** A log-mel window, mel-major, with the longer context ending where it ends when there is one. */
export interface AudioInput {
  data: Float32Array;
  frames: number;
  context?: { data: Float32Array; frames: number };
  /** YAMNet's patch centred on the window, where the spectrogram stage cut one. */
  yamnetPatch?: Int8Array;
  /** The 2 s of 16 kHz audio ending with the window, where the spectrogram stage cut it. */
  pcm16k?: Int16Array;
}

/**
 * What the stages need from the models, narrowed to the two calls they make. Keeps the stages
 * testable with strict mocks and independent of how a model is loaded or decoded.
 */
export interface AudioClassifier {
  readonly name: string;
  /** fp32 when absent; named in the inference metrics. */
  readonly precision?: Precision;
  /** Every class's score per window, in input order. */
  score(windows: readonly AudioInput[]): Promise<ClassScore[][]>;
  /** Fresh decisions-over-time state for one stream (hysteresis, baseline, one impulse one class). */
  decider(): ClassDecider;
  /** Fresh context state for one stream; none when no class is scored on a longer context. */
  context?(): WindowContextBuilder | undefined;
}

export interface FrameDetector {
  readonly name: string;
  readonly precision?: Precision;
  detect(frame: VideoFrame): Promise<Detection[]>;
}

/** Consumer group names: one per stage, shared by all replicas of that stage. */
export const Groups = {
  spectrogram: 'vigil-spectrogram',
  inference: 'vigil-inference',
  fusion: 'vigil-fusion',
} as const;

/**
 * What the stages count, for whoever exposes it (Prometheus in the services and `vigil serve`);
 * every method is optional to call through `NO_METRICS`.
 */
export interface PipelineMetrics {
  incidentVersion(event: Pick<SecurityEvent, 'rule' | 'severity' | 'state'>): void;
  streamIdle(verdict: 'stalled' | 'ended' | 'resumed'): void;
  detectorFrame(outcome: 'run' | 'skipped'): void;
  /** A live frame dropped before the detector: a newer one waited behind it, or it was too old. */
  frameDropped(reason: 'superseded' | 'stale'): void;
  inference(
    modality: Modality,
    model: string,
    seconds: number,
    items: number,
    precision: Precision,
  ): void;
  /** A live stream's alert, `seconds` after its trigger was captured. */
  incidentLatency(severity: string, seconds: number): void;
}

export const NO_METRICS: PipelineMetrics = {
  incidentVersion: () => undefined,
  streamIdle: () => undefined,
  detectorFrame: () => undefined,
  frameDropped: () => undefined,
  inference: () => undefined,
  incidentLatency: () => undefined,
};
