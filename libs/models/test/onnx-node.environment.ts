import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import { TestEnvironment } from 'jest-environment-node';

/**
 * Jest runs each test file in its own V8 context, with its own Float32Array. The
 * onnxruntime-node addon builds output tensors from typed arrays of the main context, and
 * onnxruntime-common's `instanceof` check then rejects them ("A float32 tensor's data must be
 * type of function Float32Array()"). Handing the test context the main context's typed-array
 * constructors makes both sides agree. Plain Node (production) has one context and needs nothing.
 *
 * Use with a docblock in the test file: `@jest-environment ./libs/models/test/onnx-node.environment.ts`.
 */
const SHARED = [
  'ArrayBuffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

export default class OnnxNodeEnvironment extends TestEnvironment {
  constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
    super(config, context);
    const outer = globalThis as unknown as Record<string, unknown>;
    const inner = this.global as unknown as Record<string, unknown>;
    for (const name of SHARED) inner[name] = outer[name];
  }
}
