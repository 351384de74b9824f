import type { FrameGeometry } from '@app/contracts';
import type { TensorData } from './model-session';
import type { RawBox } from './raw-box';

export interface BoxDecodeContext {
  /** Model input size in pixels. */
  inputWidth: number;
  inputHeight: number;
  geometry: FrameGeometry;
  /** Candidates under this score are dropped before NMS. */
  scoreThreshold: number;
  iouThreshold: number;
  labels: readonly string[];
}

/** Turns a detector's raw output into source-frame boxes, NMS applied, best first. */
export type BoxDecoder = (output: TensorData, ctx: BoxDecodeContext) => RawBox[];
