import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { ImageFeed } from './model-session';
import type { OrtRuntime } from './onnx-session.factory';
import { hwcToChw } from './pixel-tensor.converter';

/**
 * onnxruntime-node runs a model synchronously on the calling thread: in one process the
 * detector would hold the event loop for ~14 ms a frame while ffmpeg's pipes, the bus and
 * fusion wait. This runtime gives every session a worker thread of its own, so inference
 * overlaps with everything else on the other core. It has the shape of onnxruntime's API,
 * so the session factory (provider fallback and all) works on it unchanged.
 */

// Plain JavaScript evaluated in the worker: bundlers leave it alone, and it loads the very
// onnxruntime-node the main thread would have loaded.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const hwcToChw = new Function('return (' + workerData.hwcToChw + ')')();
// Planar buffers for image feeds, reused: runs may overlap, so each takes one of its own.
const idlePlanes = [];
let session;
function imageTensor(image, taken) {
  const size = 3 * image.width * image.height;
  const at = idlePlanes.findIndex((p) => p.length === size);
  const planes = at >= 0 ? idlePlanes.splice(at, 1)[0] : new Float32Array(size);
  taken.push(planes);
  hwcToChw(image.pixels, image.width, image.height, image.scale, planes, image.swapRedBlue);
  return new ort.Tensor('float32', planes, [1, 3, image.height, image.width]);
}
parentPort.on('message', async (message) => {
  const taken = [];
  try {
    if (message.kind === 'create') {
      session = await ort.InferenceSession.create(workerData.modelPath, workerData.options);
      parentPort.postMessage({ id: message.id, inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (message.kind === 'run') {
      const feeds = {};
      for (const [name, t] of Object.entries(message.feeds)) {
        feeds[name] = t.kind === 'image' ? imageTensor(t, taken) : new ort.Tensor(t.type, t.data, t.dims);
      }
      const results = await session.run(feeds);
      const out = {};
      const buffers = new Set();
      for (const [name, t] of Object.entries(results)) {
        out[name] = { type: t.type, data: t.data, dims: t.dims };
        buffers.add(t.data.buffer);
      }
      // Outputs are fresh arrays nobody here keeps: handed over, not copied (a detector's is
      // 1.2 MB a frame). Should the addon ever return a buffer that cannot move, copy it.
      try {
        parentPort.postMessage({ id: message.id, out }, [...buffers]);
      } catch {
        parentPort.postMessage({ id: message.id, out });
      }
    } else if (message.kind === 'release') {
      await session?.release();
      parentPort.postMessage({ id: message.id });
    }
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
  } finally {
    idlePlanes.push(...taken);
  }
});
`;

interface PlainTensor {
  type: string;
  data: Float32Array;
  dims: readonly number[];
}

class WorkerTensor implements PlainTensor {
  constructor(
    readonly type: 'float32',
    readonly data: Float32Array,
    readonly dims: readonly number[],
  ) {}
}

/** An image feed on its way to the worker, which makes the planar tensor. */
class WorkerImage {
  readonly kind = 'image';
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly scale: number;
  readonly swapRedBlue: boolean;

  constructor(image: ImageFeed) {
    ({ width: this.width, height: this.height, scale: this.scale } = image);
    this.swapRedBlue = image.swapRedBlue;
    // A view into a larger buffer (a Kafka batch, a pooled Buffer) would be cloned whole.
    const { pixels } = image;
    const tight = pixels.byteOffset === 0 && pixels.byteLength === pixels.buffer.byteLength;
    this.pixels = tight ? pixels : pixels.slice();
  }
}

type Reply = { id: number; error?: string; [key: string]: unknown };

class WorkerSession {
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (reply: Reply) => void; reject: (error: Error) => void }
  >();

  constructor(private readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      const pending = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (!pending) return;
      if (reply.error !== undefined) pending.reject(new Error(reply.error));
      else pending.resolve(reply);
    });
    const failAll = (error: Error) => {
      for (const pending of this.waiting.values()) pending.reject(error);
      this.waiting.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`inference worker exited with code ${code}`)));
    // An idle session must not keep the process alive.
    worker.unref();
  }

  async open(): Promise<this> {
    const reply = await this.call({ kind: 'create' });
    this.inputNames = reply.inputNames as string[];
    this.outputNames = reply.outputNames as string[];
    return this;
  }

  async run(
    feeds: Record<string, PlainTensor | WorkerImage>,
  ): Promise<Record<string, PlainTensor>> {
    const plain = Object.fromEntries(
      Object.entries(feeds).map(([name, t]) => [
        name,
        t instanceof WorkerImage ? { ...t } : { type: t.type, data: t.data, dims: t.dims },
      ]),
    );
    // Inputs are copied, not transferred: runners reuse their input buffers between runs, and a
    // frame's pixels stay with the pipeline (the motion gate, evidence) after detection.
    return (await this.call({ kind: 'run', feeds: plain })).out as Record<string, PlainTensor>;
  }

  async release(): Promise<void> {
    try {
      await this.call({ kind: 'release' });
    } finally {
      await this.worker.terminate();
    }
  }

  private call(message: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id });
    }).finally(() => {
      if (this.waiting.size === 0) this.worker.unref();
    }) as Promise<Reply>;
  }
}

export async function loadWorkerRuntime(): Promise<OrtRuntime> {
  // Resolved here, where the package really is, and handed to the worker as a path.
  const ortPath = createRequire(__filename).resolve('onnxruntime-node');
  return {
    InferenceSession: {
      create: async (modelPath: string, options: InferenceSession.SessionOptions) => {
        const worker = new Worker(WORKER_SOURCE, {
          eval: true,
          // The converter goes as source: one implementation, whatever bundles this file.
          workerData: { ortPath, modelPath, options, hwcToChw: hwcToChw.toString() },
        });
        const session = new WorkerSession(worker);
        try {
          return (await session.open()) as unknown as InferenceSession;
        } catch (error) {
          await worker.terminate();
          throw error;
        }
      },
    },
    Tensor: WorkerTensor as unknown as new (
      type: 'float32',
      data: Float32Array,
      dims: readonly number[],
    ) => Tensor,
    imageTensor: (image) => new WorkerImage(image) as unknown as Tensor,
  };
}
