import type { Detection, VideoFrame } from '@app/contracts';
import type { ClassDecider, ClassScore } from '@app/models';

/**
 * What the stages need from the models, narrowed to the two calls they make. Keeps the stages
 * testable with strict mocks and independent of how a model is loaded or decoded.
 */
export interface AudioClassifier {
  readonly name: string;
  /** Every class's score per window, in input order. */
  score(windows: readonly { data: Float32Array; frames: number }[]): Promise<ClassScore[][]>;
  /** Fresh decisions-over-time state for one stream (hysteresis, baseline, one impulse one class). */
  decider(): ClassDecider;
}

export interface FrameDetector {
  readonly name: string;
  detect(frame: VideoFrame): Promise<Detection[]>;
}

/** Consumer group names: one per stage, shared by all replicas of that stage. */
export const Groups = {
  spectrogram: 'vigil-spectrogram',
  inference: 'vigil-inference',
  fusion: 'vigil-fusion',
} as const;
