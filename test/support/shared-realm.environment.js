'use strict';
const { TestEnvironment } = require('jest-environment-node');

/**
 * Jest runs each test file in its own realm, but onnxruntime-node's native addon creates and
 * checks typed arrays against the main realm's constructors ("A float32 tensor's data must be
 * type of Float32Array"). Sharing the main realm's typed-array constructors lets real models
 * run in tests exactly as they do in the CLI.
 */
const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
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
];

class SharedRealmEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedRealmEnvironment;
