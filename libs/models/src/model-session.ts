import type { ExecutionProvider } from './onnx-session.factory';

/** A float32 tensor as plain data: what runners and decoders exchange with a session. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * An image as 8-bit interleaved pixels (HWC), for a model whose input is the planar float CHW
 * tensor of it times `scale`: the session converts it on the thread that runs the model. A
 * worker then receives a quarter of the bytes (0.5 MB, not 2 MB, for a 416² frame; cloning the
 * floats cost the main thread 1.4 ms a frame) and the conversion leaves the main thread.
 */
export interface ImageFeed {
  pixels: Uint8Array;
  width: number;
  height: number;
  scale: number;
  /** rgb24 pixels for a bgr24 model, or the other way round. */
  swapRedBlue: boolean;
}

export type Feed = TensorData | ImageFeed;

export const isImageFeed = (feed: Feed): feed is ImageFeed => 'pixels' in feed;

/**
 * One loaded model, reduced to what the runners need. Runners depend on this rather than on
 * onnxruntime so they can be tested with plain objects.
 */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The provider the session really runs on, after any fallback. */
  readonly executionProvider: ExecutionProvider;
  run(feeds: Record<string, Feed>): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}
