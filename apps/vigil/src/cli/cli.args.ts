import { parseArgs } from 'node:util';
import { PRECISION_CHOICES, type PrecisionChoice } from '@app/models';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage:
  vigil analyze <file|url> [--json] [--rules FILE] [--fps N] [--models DIR] [--stream-id ID]
                [--precision auto|int8|fp32]
  vigil eval <labels.json>... [--root DIR] [--json] [--min-recall R|CLASS=R]... [--max-false-alerts N]
             [--jobs N] [--rules FILE] [--fps N] [--models DIR] [--precision auto|int8|fp32]
  vigil models list [--models DIR]
  vigil models verify [NAME...] [--models DIR]
  vigil models pull [NAME...] [--models DIR] [--mirror URL]
  vigil serve [--config FILE] [--models DIR] [--precision auto|int8|fp32]   (gRPC API, webhooks, history; VIGIL_GRPC_ADDRESS, VIGIL_DATA_DIR)
  vigil edge [--config FILE] [--models DIR] [--precision auto|int8|fp32]   (cameras' detections to a central Kafka: KAFKA_BROKERS; the file's edge section)
  vigil stream start <file|url> [--stream-id ID] [--live] [--loop]   (to a Kafka deployment: KAFKA_BROKERS)
  vigil stream stop <stream-id>
  vigil webhooks list-dead [--subscription ID] [--json] [--address HOST:PORT] [--ca FILE]
  vigil webhooks replay <delivery-id>... | --all [--subscription ID] [--address HOST:PORT] [--ca FILE]
                 (the dead letters of a running vigil serve or fusion; token in VIGIL_API_TOKEN)
  vigil --help | --version

Environment: VIGIL_MODELS_DIR (folders separated by ':'), VIGIL_AUDIO_MODEL, VIGIL_VIDEO_MODEL,
VIGIL_PRECISION, VIGIL_AUDIO_PRECISION, VIGIL_VIDEO_PRECISION (auto|int8|fp32; auto: INT8 where
the model's catalog entry records that it won), VIGIL_FPS, VIGIL_RULES_FILE,
VIGIL_EXECUTION_PROVIDER (cpu|cuda|tensorrt), VIGIL_INFERENCE_THREADS, FFMPEG_PATH, VIGIL_LOG_LEVEL.
Exit codes: 0 success, 1 the input or a model could not be used (eval: below a bar),
2 bad arguments, configuration or labels.`;

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | {
      kind: 'analyze';
      source: string;
      json: boolean;
      rulesFile?: string;
      fps?: number;
      modelsDir?: string;
      streamId?: string;
      precision?: PrecisionChoice;
    }
  | {
      kind: 'eval';
      labelsFiles: string[];
      root?: string;
      json: boolean;
      minRecall: string[];
      maxFalseAlerts?: string;
      jobs?: number;
      rulesFile?: string;
      fps?: number;
      modelsDir?: string;
      precision?: PrecisionChoice;
    }
  | {
      kind: 'models';
      action: 'list' | 'verify' | 'pull';
      names: string[];
      modelsDir?: string;
      mirror?: string;
    }
  | { kind: 'serve'; configFile?: string; modelsDir?: string; precision?: PrecisionChoice }
  | { kind: 'edge'; configFile?: string; modelsDir?: string; precision?: PrecisionChoice }
  | {
      kind: 'stream';
      action: 'start';
      source: string;
      streamId?: string;
      live: boolean;
      loop: boolean;
    }
  | { kind: 'stream'; action: 'stop'; streamId: string }
  | {
      kind: 'webhooks';
      action: 'list-dead';
      subscriptionId?: string;
      json: boolean;
      address?: string;
      caFile?: string;
    }
  | {
      kind: 'webhooks';
      action: 'replay';
      deliveryIds: string[];
      all: boolean;
      subscriptionId?: string;
      address?: string;
      caFile?: string;
    };

const COMMANDS: readonly string[] = [
  'analyze',
  'edge',
  'eval',
  'models',
  'serve',
  'stream',
  'webhooks',
];

export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        rules: { type: 'string' },
        fps: { type: 'string' },
        models: { type: 'string' },
        precision: { type: 'string' },
        'stream-id': { type: 'string' },
        mirror: { type: 'string' },
        config: { type: 'string' },
        live: { type: 'boolean', default: false },
        loop: { type: 'boolean', default: false },
        root: { type: 'string' },
        'min-recall': { type: 'string', multiple: true },
        'max-false-alerts': { type: 'string' },
        jobs: { type: 'string' },
        subscription: { type: 'string' },
        all: { type: 'boolean', default: false },
        address: { type: 'string' },
        ca: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [first] = positionals;
  // `vigil <typo> --help` must not look like success: a script would take it for a command.
  if (first !== undefined && !COMMANDS.includes(first)) {
    throw new UsageError(`unknown command "${first}"`);
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const [command, ...rest] = positionals;
  const precision = precisionOf(values.precision);
  if (precision !== undefined && !['analyze', 'eval', 'serve', 'edge'].includes(command ?? '')) {
    throw new UsageError('--precision goes with analyze, eval, serve or edge');
  }
  switch (command) {
    case 'analyze': {
      if (rest.length !== 1) throw new UsageError('analyze takes exactly one file or URL');
      return {
        kind: 'analyze',
        source: rest[0],
        json: values.json ?? false,
        rulesFile: values.rules,
        fps: fpsOf(values.fps),
        modelsDir: values.models,
        streamId: values['stream-id'],
        precision,
      };
    }
    case 'eval': {
      if (rest.length === 0) throw new UsageError('eval takes one or more labels files');
      let jobs: number | undefined;
      if (values.jobs !== undefined) {
        jobs = Number(values.jobs);
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
          throw new UsageError(`--jobs must be a whole number from 1 to 64, got "${values.jobs}"`);
        }
      }
      return {
        kind: 'eval',
        labelsFiles: rest,
        root: values.root,
        json: values.json ?? false,
        minRecall: values['min-recall'] ?? [],
        maxFalseAlerts: values['max-false-alerts'],
        jobs,
        rulesFile: values.rules,
        fps: fpsOf(values.fps),
        modelsDir: values.models,
        precision,
      };
    }
    case 'models': {
      const [action, ...names] = rest;
      if (action !== 'list' && action !== 'verify' && action !== 'pull') {
        throw new UsageError('models takes list, verify or pull');
      }
      return { kind: 'models', action, names, modelsDir: values.models, mirror: values.mirror };
    }
    case 'serve': {
      if (rest.length > 0) throw new UsageError('serve takes no positional arguments');
      return { kind: 'serve', configFile: values.config, modelsDir: values.models, precision };
    }
    case 'edge': {
      if (rest.length > 0) throw new UsageError('edge takes no positional arguments');
      return { kind: 'edge', configFile: values.config, modelsDir: values.models, precision };
    }
    case 'stream': {
      const [action, target, ...extra] = rest;
      if ((action !== 'start' && action !== 'stop') || !target || extra.length > 0) {
        throw new UsageError('stream takes start <file|url> or stop <stream-id>');
      }
      return action === 'start'
        ? {
            kind: 'stream',
            action,
            source: target,
            streamId: values['stream-id'],
            live: values.live ?? false,
            loop: values.loop ?? false,
          }
        : { kind: 'stream', action, streamId: target };
    }
    case 'webhooks': {
      const [action, ...ids] = rest;
      const target = {
        ...(values.subscription !== undefined ? { subscriptionId: values.subscription } : {}),
        ...(values.address !== undefined ? { address: values.address } : {}),
        ...(values.ca !== undefined ? { caFile: values.ca } : {}),
      };
      if (action === 'list-dead') {
        if (ids.length > 0)
          throw new UsageError('webhooks list-dead takes no positional arguments');
        return { kind: 'webhooks', action, json: values.json ?? false, ...target };
      }
      if (action === 'replay') {
        const all = values.all ?? false;
        if (all && ids.length > 0) {
          throw new UsageError('webhooks replay takes delivery ids or --all, not both');
        }
        if (!all && ids.length === 0) {
          throw new UsageError('webhooks replay takes the delivery ids to replay, or --all');
        }
        if (!all && values.subscription !== undefined) {
          throw new UsageError('--subscription goes with --all (delivery ids name their own)');
        }
        return { kind: 'webhooks', action, deliveryIds: ids, all, ...target };
      }
      throw new UsageError('webhooks takes list-dead or replay');
    }
    case undefined:
      return { kind: 'help' };
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function precisionOf(raw: string | undefined): PrecisionChoice | undefined {
  if (raw === undefined) return undefined;
  if (!(PRECISION_CHOICES as readonly string[]).includes(raw)) {
    throw new UsageError(
      `--precision must be one of ${PRECISION_CHOICES.join(', ')}, got "${raw}"`,
    );
  }
  return raw as PrecisionChoice;
}

function fpsOf(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const fps = Number(raw);
  if (!Number.isFinite(fps) || fps < 0.1 || fps > 60) {
    throw new UsageError(`--fps must be a number between 0.1 and 60, got "${raw}"`);
  }
  return fps;
}
