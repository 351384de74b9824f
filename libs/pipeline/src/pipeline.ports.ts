import type { Detection, VideoFrame } from '@app/contracts';

/**
 * What the stages need from the models, narrowed to the two calls they make. Keeps the stages
 * testable with strict mocks and independent of how a model is loaded or decoded.
 */
export interface AudioClassifier {
  readonly name: string;
  /** One list of canonical detections per window, in input order. */
  classify(windows: readonly { data: Float32Array; frames: number }[]): Promise<Detection[][]>;
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
