import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import {
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  PRECISION_CHOICES,
  type PrecisionChoice,
  TENSORRT_PRECISIONS,
  type TensorRtPrecision,
} from '@app/models';
import { ConfigError } from './config.error';
import { type Env, boolean, integer, number, oneOf } from './env.parsers';

/**
 * One detector session per core, up to 4: the detector is what saturates first with many
 * cameras, and frames of different streams run side by side. On 2 cores, INT8 and motion gating
 * on, `npm run bench:capacity` held 16 live cameras with two against 8 with one.
 */
const DEFAULT_DETECTOR_WORKERS = Math.min(4, availableParallelism());

export const LOG_LEVELS = ['error', 'warn', 'log', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything Vigil reads from its environment, validated once at start. */
export interface VigilConfig {
  modelsDir: string;
  audioModel: string;
  videoModel: string;
  /** fp32, int8, or auto: INT8 only where the model's catalog entry records that it won. */
  audioPrecision: PrecisionChoice;
  videoPrecision: PrecisionChoice;
  executionProvider: ExecutionProvider;
  /** With the tensorrt provider: the precision its engines are built in, and where they are cached. */
  tensorrtPrecision: TensorRtPrecision;
  tensorrtCacheDir: string;
  /** onnxruntime intra-op threads per session; stages already overlap on the cores. */
  inferenceThreads: number;
  /** Object detector sessions, each on its own worker thread: frames of several streams at once. */
  detectorWorkers: number;
  /** Frames per second sampled from video for detection. */
  fps: number;
  /** Run the object detector only on frames where something moved (or every 2 s). */
  motionGating: boolean;
  /**
   * The longest a live frame waits for the detector: when inference falls behind, older live
   * frames are dropped (counted) instead of queued. Files analysed as files keep every frame.
   */
  liveFrameMaxAgeMs: number;
  /** Rules file; the shipped defaults when unset. */
  rulesFile?: string;
  ffmpegPath?: string;
  logLevel: LogLevel;
}

/** VIGIL_LOG_LEVEL, validated; commands that read no other config (serve, at first) ask this. */
export function loadLogLevel(env: Env, fallback: LogLevel = 'warn'): LogLevel {
  return oneOf(env, 'VIGIL_LOG_LEVEL', LOG_LEVELS, fallback);
}

function cacheHome(env: Env): string {
  return env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
}

export function defaultModelsDir(env: Env): string {
  return join(cacheHome(env), 'vigil', 'models');
}

/** Overrides from the command line win over the environment. */
export function loadConfig(env: Env, overrides: Partial<VigilConfig> = {}): VigilConfig {
  const precision = oneOf(env, 'VIGIL_PRECISION', PRECISION_CHOICES, 'auto');
  const config: VigilConfig = {
    modelsDir: env.VIGIL_MODELS_DIR || defaultModelsDir(env),
    audioModel: env.VIGIL_AUDIO_MODEL || 'efficientat-mn04',
    videoModel: env.VIGIL_VIDEO_MODEL || 'yolox-nano',
    audioPrecision: oneOf(env, 'VIGIL_AUDIO_PRECISION', PRECISION_CHOICES, precision),
    videoPrecision: oneOf(env, 'VIGIL_VIDEO_PRECISION', PRECISION_CHOICES, precision),
    executionProvider: oneOf(env, 'VIGIL_EXECUTION_PROVIDER', EXECUTION_PROVIDERS, 'cpu'),
    tensorrtPrecision: oneOf(env, 'VIGIL_TENSORRT_PRECISION', TENSORRT_PRECISIONS, 'fp16'),
    tensorrtCacheDir: env.VIGIL_TENSORRT_CACHE_DIR || join(cacheHome(env), 'vigil', 'tensorrt'),
    inferenceThreads: integer(env, 'VIGIL_INFERENCE_THREADS', 1, 1, 64),
    detectorWorkers: integer(env, 'VIGIL_DETECTOR_WORKERS', DEFAULT_DETECTOR_WORKERS, 1, 16),
    fps: number(env, 'VIGIL_FPS', 5, 0.1, 60),
    motionGating: boolean(env, 'VIGIL_MOTION_GATING', true),
    liveFrameMaxAgeMs: integer(env, 'VIGIL_LIVE_FRAME_MAX_AGE_MS', 1000, 50, 600_000),
    rulesFile: env.VIGIL_RULES_FILE || undefined,
    ffmpegPath: env.FFMPEG_PATH || undefined,
    logLevel: loadLogLevel(env),
  };
  const merged = { ...config, ...stripUndefined(overrides) };
  if (!(merged.fps >= 0.1 && merged.fps <= 60)) {
    throw new ConfigError('fps', `must be a number between 0.1 and 60, got ${merged.fps}`);
  }
  return Object.freeze(merged);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
