import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './config.error';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export const LOG_LEVELS = ['error', 'warn', 'log', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything Vigil reads from its environment, validated once at start. */
export interface VigilConfig {
  modelsDir: string;
  audioModel: string;
  videoModel: string;
  executionProvider: ExecutionProvider;
  /** onnxruntime intra-op threads per session; stages already overlap on the cores. */
  inferenceThreads: number;
  /** Frames per second sampled from video for detection. */
  fps: number;
  /** Rules file; the shipped defaults when unset. */
  rulesFile?: string;
  ffmpegPath?: string;
  logLevel: LogLevel;
}

export type Env = Record<string, string | undefined>;

export function defaultModelsDir(env: Env): string {
  const cache = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cache, 'vigil', 'models');
}

/** Overrides from the command line win over the environment. */
export function loadConfig(env: Env, overrides: Partial<VigilConfig> = {}): VigilConfig {
  const config: VigilConfig = {
    modelsDir: env.VIGIL_MODELS_DIR || defaultModelsDir(env),
    audioModel: env.VIGIL_AUDIO_MODEL || 'efficientat-mn04',
    videoModel: env.VIGIL_VIDEO_MODEL || 'yolox-nano',
    executionProvider: oneOf(env, 'VIGIL_EXECUTION_PROVIDER', EXECUTION_PROVIDERS, 'cpu'),
    inferenceThreads: integer(env, 'VIGIL_INFERENCE_THREADS', 1, { min: 1, max: 64 }),
    fps: number(env, 'VIGIL_FPS', 5, { min: 0.1, max: 60 }),
    rulesFile: env.VIGIL_RULES_FILE || undefined,
    ffmpegPath: env.FFMPEG_PATH || undefined,
    logLevel: oneOf(env, 'VIGIL_LOG_LEVEL', LOG_LEVELS, 'warn'),
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

function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T): T {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(key, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function number(
  env: Env,
  key: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < range.min || value > range.max) {
    throw new ConfigError(
      key,
      `must be a number between ${range.min} and ${range.max}, got "${raw}"`,
    );
  }
  return value;
}

function integer(
  env: Env,
  key: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  const value = number(env, key, fallback, range);
  if (!Number.isInteger(value)) throw new ConfigError(key, `must be an integer, got "${env[key]}"`);
  return value;
}
