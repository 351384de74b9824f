import type { ExecutionProvider } from './onnx-session.factory';

/** A float32 tensor as plain data: what runners and decoders exchange with a session. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * One loaded model, reduced to what the runners need. Runners depend on this rather than on
 * onnxruntime so they can be tested with plain objects.
 */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** The provider the session really runs on, after any fallback. */
  readonly executionProvider: ExecutionProvider;
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  release(): Promise<void>;
}
