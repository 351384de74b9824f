import type { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  type Feed,
  type ImageFeed,
  type ModelSession,
  type TensorData,
  isImageFeed,
} from './model-session';
import { hwcToChw } from './pixel-tensor.converter';
import { loadWorkerRuntime } from './onnx-worker.runtime';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export const TENSORRT_PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type TensorRtPrecision = (typeof TENSORRT_PRECISIONS)[number];

export interface TensorRtOptions {
  /**
   * What TensorRT may build its engines in. int8 needs a model with its quantization in it
   * (QDQ, as the INT8 model folders have) or a calibration table; fp16 suits FP32 models.
   */
  precision: TensorRtPrecision;
  /** Built engines are cached here: building one takes minutes, loading it a second. */
  cacheDir?: string;
}

export interface OnnxSessionOptions {
  executionProvider?: ExecutionProvider;
  tensorrt?: TensorRtOptions;
  /**
   * Threads inside one operator. Default 1: the pipeline already overlaps decoding, features
   * and inference on small machines, and more threads per session fight those stages for cores.
   */
  intraOpNumThreads?: number;
}

/** The subset of Nest's LoggerService this lib needs, so libs stay framework-free. */
export interface ModelsLogger {
  log(message: string): void;
  warn(message: string): void;
}

/** The parts of onnxruntime-node the factory touches: the seam unit tests mock. */
export interface OrtRuntime {
  InferenceSession: {
    create(path: string, options: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
  /**
   * An image input the runtime converts where the model runs (the worker runtime does, in its
   * worker). Without it the session converts on the calling thread.
   */
  imageTensor?(image: ImageFeed): Tensor;
}

/**
 * onnxruntime on this thread, loaded on first use so importing @app/models (types, decoders,
 * catalog) never loads the native addon. The factory's default is the worker-thread runtime.
 */
export const loadOnnxRuntime = async (): Promise<OrtRuntime> =>
  (await import('onnxruntime-node')) as unknown as OrtRuntime;

/** GPU providers list their own fallbacks so nodes a GPU provider cannot take still run. */
const PROVIDER_CHAIN: Record<ExecutionProvider, string[]> = {
  cpu: ['cpu'],
  cuda: ['cuda', 'cpu'],
  tensorrt: ['tensorrt', 'cuda', 'cpu'],
};

// onnxruntime's own log level: 3 = errors only. During a GPU attempt we go to 4 (fatal) because a
// missing CUDA library is expected on CPU-only installs and we report it ourselves, once.
const ORT_LOG_ERROR = 3;
const ORT_LOG_FATAL = 4;

class OrtModelSession implements ModelSession {
  constructor(
    private readonly session: InferenceSession,
    private readonly runtime: OrtRuntime,
    readonly executionProvider: ExecutionProvider,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) {
      ortFeeds[name] = isImageFeed(feed) ? this.imageTensor(feed) : this.tensor(feed);
    }
    const results = await this.session.run(ortFeeds);
    const out: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(results)) {
      // Checked by tensor type, not instanceof: arrays made by the native addon belong to the
      // main realm, and a caller in another realm (a vm context, a test runner) would see
      // every output rejected.
      if (tensor.type !== 'float32') {
        throw new Error(`output ${name} is ${tensor.type}, expected float32`);
      }
      out[name] = { data: tensor.data as Float32Array, dims: tensor.dims };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private tensor({ data, dims }: TensorData): Tensor {
    return new this.runtime.Tensor('float32', data, dims);
  }

  private imageTensor(image: ImageFeed): Tensor {
    if ('imageTensor' in this.runtime) return this.runtime.imageTensor!(image);
    const { pixels, width, height, scale, swapRedBlue } = image;
    const planar = new Float32Array(3 * width * height);
    hwcToChw(pixels, width, height, scale, planar, swapRedBlue);
    return this.tensor({ data: planar, dims: [1, 3, height, width] });
  }
}

/**
 * Creates inference sessions: the only place that touches onnxruntime. A GPU provider that
 * cannot start (the stock npm package ships without the CUDA provider libraries) degrades to the
 * CPU with a warning instead of stopping the service.
 */
export class OnnxSessionFactory {
  constructor(
    private readonly logger: ModelsLogger,
    private readonly options: OnnxSessionOptions = {},
    private readonly loadRuntime: () => Promise<OrtRuntime> = loadWorkerRuntime,
    /** The process environment, where onnxruntime's TensorRT provider reads its settings. */
    private readonly environment: Record<string, string | undefined> = process.env,
  ) {
    const threads = options.intraOpNumThreads;
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
      throw new Error(`intraOpNumThreads must be a positive integer (got ${threads})`);
    }
    const provider = options.executionProvider;
    if (provider !== undefined && !EXECUTION_PROVIDERS.includes(provider)) {
      throw new Error(
        `executionProvider must be one of ${EXECUTION_PROVIDERS.join(', ')} (got ${provider})`,
      );
    }
  }

  async create(modelPath: string): Promise<ModelSession> {
    const runtime = await this.loadRuntime();
    const wanted = this.options.executionProvider ?? 'cpu';
    if (wanted === 'tensorrt') this.configureTensorRt();
    if (wanted !== 'cpu') {
      try {
        const session = await runtime.InferenceSession.create(
          modelPath,
          this.sessionOptions(wanted, ORT_LOG_FATAL),
        );
        this.logger.log(`${modelPath}: running on ${wanted}`);
        return new OrtModelSession(session, runtime, wanted);
      } catch (err) {
        this.logger.warn(
          `${modelPath}: execution provider ${wanted} unavailable, falling back to cpu ` +
            `(${firstLine(err)})`,
        );
      }
    }
    const session = await runtime.InferenceSession.create(
      modelPath,
      this.sessionOptions('cpu', ORT_LOG_ERROR),
    );
    this.logger.log(`${modelPath}: running on cpu`);
    return new OrtModelSession(session, runtime, 'cpu');
  }

  /**
   * onnxruntime-node passes no TensorRT provider options (a device id only), so precision and
   * the engine cache go through the variables the provider reads when it starts. What the user
   * set in the environment wins.
   */
  private configureTensorRt(): void {
    const { precision = 'fp16', cacheDir } = this.options.tensorrt ?? {};
    const settings: Record<string, string | undefined> = {
      ORT_TENSORRT_FP16_ENABLE: precision === 'fp32' ? '0' : '1',
      ORT_TENSORRT_INT8_ENABLE: precision === 'int8' ? '1' : '0',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: cacheDir ? '1' : undefined,
      ORT_TENSORRT_CACHE_PATH: cacheDir,
    };
    for (const [name, value] of Object.entries(settings)) {
      if (value !== undefined && this.environment[name] === undefined) {
        this.environment[name] = value;
      }
    }
  }

  private sessionOptions(
    provider: ExecutionProvider,
    logSeverityLevel: 3 | 4,
  ): InferenceSession.SessionOptions {
    return {
      executionProviders: PROVIDER_CHAIN[provider],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: this.options.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel,
    };
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
