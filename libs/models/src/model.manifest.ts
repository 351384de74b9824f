import type { LogMelRecipe } from '@app/dsp';
import { AUDIO_CLASSES, VIDEO_CLASSES } from '@app/contracts';
import type { CanonicalClass } from '@app/contracts';

/**
 * A model manifest (`model.json`): everything needed to feed a model and read its answers.
 * Models are data, so every choice that depends on the weights (input layout, feature recipe,
 * decoder, label groups and thresholds) lives here rather than in code.
 */

/**
 * `audio-companion`: another audio tagger run beside the main one on its own input (see
 * `ModelManifest.companion`); it has no label groups of its own.
 */
export const MODEL_TASKS = ['audio-tagging', 'object-detection', 'audio-companion'] as const;
export type ModelTask = (typeof MODEL_TASKS)[number];

export const LABEL_FORMATS = ['audioset-csv', 'lines'] as const;
export type LabelFormat = (typeof LABEL_FORMATS)[number];

/** `probabilities`: the model's own per-class sigmoid scores, read as they are. */
export const OUTPUT_DECODERS = [
  'sigmoid-multilabel',
  'probabilities',
  'yolox',
  'fastestdet',
] as const;
export type OutputDecoderName = (typeof OUTPUT_DECODERS)[number];

export const RESIZE_MODES = ['letterbox-topleft', 'stretch'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

/**
 * How the scores of a group's labels become one class score:
 * - `max`: the best single label;
 * - `noisy-or`: 1 − Π(1 − p), labels treated as independent pieces of evidence;
 * - `sum`: the plain sum, capped at 1.
 */
export const COMBINE_RULES = ['max', 'noisy-or', 'sum'] as const;
export type CombineRule = (typeof COMBINE_RULES)[number];

/** Numeric precision of a model file's weights and arithmetic. */
export const PRECISIONS = ['fp32', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * What an FP32 catalog entry knows of its INT8 variant (`<name>-int8`, made by
 * scripts/quantize): how it is made, and the measured verdict that `auto` precision follows.
 */
export interface Int8Plan {
  /** The quantizer's method (scripts/quantize/quantize.py lists them). */
  method: string;
  verdict?: Int8Verdict;
}

export interface Int8Verdict {
  /** Whether `auto` precision runs the INT8 variant: accuracy passed and it was faster. */
  ship: boolean;
  /** Largest per-class F1 drop (FP32 − INT8) over the eval corpus; the bar is 0.02. */
  maxF1Drop: number;
  /** FP32 time / INT8 time of one model call, 1 and 2 intra-op threads (`npm run bench:int8`). */
  speedup: { threads1: number; threads2: number };
  /** Where and how it was measured, in words. */
  note: string;
}

/** Provenance of a quantized model: written by scripts/quantize into its model.json. */
export interface QuantizationProvenance {
  source: { name: string; file: string; sha256: string };
  method: string;
  [detail: string]: unknown;
}

/** The log-mel recipe the model was trained on: features always follow their model. */
export type FeatureRecipe = LogMelRecipe;

export interface ModelInputSpec {
  name: string;
  /** Tensor layout, e.g. `NCHW` for images or `N1MT` (batch, 1, mel, time) for log-mel. */
  layout: string;
  dtype: 'float32';
  width?: number;
  height?: number;
  resize?: ResizeMode;
  /** ffmpeg colour for the letterbox padding, e.g. `0x727272`. */
  padColor?: string;
  /** Order of the interleaved 8-bit pixels the model expects before the NCHW transpose. */
  pixelFormat?: 'bgr24';
  /** Multiplier from 8-bit pixel values to model input: 1 or 1/255. */
  scale?: number;
  /** Batch size baked into the export; absent when the batch axis is dynamic. */
  fixedBatch?: number;
}

export interface ModelFeatures {
  recipe: FeatureRecipe;
  windowSec: number;
  hopSec: number;
  /**
   * A longer stretch of audio, ending where each window ends, that the classes marked `context`
   * are scored on: a sustained sound (an alarm's repeated beeps, a voice) is told apart by more
   * than one second of it, while an impulse is drowned by it. Absent when no class needs it.
   */
  contextSec?: number;
}

/** One decision on a window's label scores. */
export interface LabelDecision {
  /** Model label names exactly as the labels file spells them. */
  labels: string[];
  threshold: number;
  combine?: CombineRule;
  /**
   * A learned head instead of a fixed combine rule: score = sigmoid(bias + Σ weights[i] ·
   * logit(score of labels[i])). Fitted by `npm run calibrate` where it beats the rule under
   * grouped cross-validation.
   */
  head?: { weights: number[]; bias: number };
  /** Scored on the `features.contextSec` of audio ending with the window, not the window alone. */
  context?: boolean;
}

export interface LabelGroup extends LabelDecision {
  /** Hysteresis: once detected, the class stays on while its score holds at or above this. */
  release?: number;
  /**
   * Any of several decisions, each at its own threshold (two models that hear different
   * recordings of one class). The class scores sigmoid(max over members of logit(score) −
   * logit(member threshold)), compared with `threshold` (at 0.5: any member at or over its
   * own). The group's own `labels` then list the members' together, and its `combine`, `head`
   * and `context` are not used.
   */
  anyOf?: LabelDecision[];
  /** All of several decisions (two models that must agree): the same with min for max. */
  allOf?: LabelDecision[];
}

/** Whether a class reads the longer context, itself or through any of its members. */
export function readsContext(group: LabelGroup | undefined): boolean {
  const members = [...(group?.anyOf ?? []), ...(group?.allOf ?? [])];
  return Boolean(group?.context || members.some((m) => m.context));
}

/** Decisions over time for a multi-label audio model (see ClassDecider). */
export interface ManifestDecisions {
  exclusive?: CanonicalClass[][];
  exclusiveSec?: number;
  baseline?: { windows: number; minWindows: number; marginLogit: number; ceiling: number };
}

export type LabelGroups = Partial<Record<CanonicalClass, LabelGroup>>;

export interface ModelManifest {
  name: string;
  task: ModelTask;
  file: string;
  sha256: string;
  sizeBytes: number;
  /**
   * Where the weights come from. `pullable` is false when upstream does not publish this very
   * file (e.g. only PyTorch weights): `vigil models pull` then needs a mirror.
   */
  upstream: { url: string; note: string; pullable: boolean };
  license: string;
  /** `sha256` guards a pulled labels file; `url` is its published address, when there is one. */
  labels: { file: string; format: LabelFormat; sha256?: string; url?: string };
  input: ModelInputSpec;
  features?: ModelFeatures;
  output: { name: string; decoder: OutputDecoderName };
  labelGroups: LabelGroups;
  decisions?: ManifestDecisions;
  nms?: { iou: number; scoreThreshold: number };
  /** Absent means fp32. */
  precision?: Precision;
  /** Present on quantized models: which FP32 file they were made from, and how. */
  quantization?: QuantizationProvenance;
  /** On FP32 entries that have an INT8 variant. */
  int8?: Int8Plan;
  /**
   * Audio models heard beside this one where they are installed (`audio-companion` entries).
   * Their labels join this model's as `<model>:<label>`, in this order, and these label groups,
   * which may read them all, replace `labelGroups`; where any is missing, `labelGroups` decide
   * alone (groups calibrated on several models' scores mean nothing on fewer).
   */
  companion?: { models: string[]; labelGroups: LabelGroups };
}

export class ManifestError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid model manifest ${source}: ${problems.join('; ')}`);
    this.name = 'ManifestError';
  }
}

type Json = Record<string, unknown>;

/** Collects every problem in one pass so a user fixing a model.json sees them all at once. */
class Checker {
  readonly problems: string[] = [];

  problem(key: string, message: string): void {
    this.problems.push(`${key}: ${message}`);
  }

  object(value: unknown, key: string): Json | undefined {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
    this.problem(key, value === undefined ? 'is required' : 'must be an object');
    return undefined;
  }

  string(value: unknown, key: string, pattern?: RegExp, hint?: string): void {
    if (value === undefined) return this.problem(key, 'is required');
    if (typeof value !== 'string' || value.length === 0) {
      return this.problem(key, 'must be a non-empty string');
    }
    if (pattern && !pattern.test(value)) this.problem(key, hint ?? `must match ${pattern}`);
  }

  number(value: unknown, key: string, check?: (n: number) => boolean, hint?: string): void {
    if (value === undefined) return this.problem(key, 'is required');
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return this.problem(key, 'must be a finite number');
    }
    if (check && !check(value)) this.problem(key, hint ?? 'is out of range');
  }

  oneOf(value: unknown, key: string, allowed: readonly string[]): void {
    if (value === undefined) return this.problem(key, 'is required');
    if (typeof value !== 'string' || !allowed.includes(value)) {
      this.problem(key, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
    }
  }

  optional(obj: Json, key: string, prefix: string, check: (value: unknown, key: string) => void) {
    if (obj[key] !== undefined) check(obj[key], `${prefix}${key}`);
  }
}

const positive = (n: number) => n > 0;
const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
const unit = (n: number) => n >= 0 && n <= 1;
/** A file name inside the model folder: no separators, so a manifest cannot point outside it. */
const PLAIN_FILE = /^[^/\\]+$/;
const PLAIN_FILE_HINT = 'must be a file name inside the model folder (no path separators)';

function checkInput(c: Checker, value: unknown, task: unknown): void {
  const input = c.object(value, 'input');
  if (!input) return;
  c.string(input.name, 'input.name');
  c.string(input.layout, 'input.layout');
  c.oneOf(input.dtype, 'input.dtype', ['float32']);
  c.optional(input, 'width', 'input.', (v, k) =>
    c.number(v, k, positiveInt, 'must be a positive integer'),
  );
  c.optional(input, 'height', 'input.', (v, k) =>
    c.number(v, k, positiveInt, 'must be a positive integer'),
  );
  c.optional(input, 'resize', 'input.', (v, k) => c.oneOf(v, k, RESIZE_MODES));
  c.optional(input, 'padColor', 'input.', (v, k) =>
    c.string(v, k, /^0x[0-9a-fA-F]{6}$/, 'must be a hex colour like 0x727272'),
  );
  c.optional(input, 'pixelFormat', 'input.', (v, k) => c.oneOf(v, k, ['bgr24']));
  c.optional(input, 'scale', 'input.', (v, k) =>
    c.number(v, k, (n) => n === 1 || Math.abs(n - 1 / 255) < 1e-9, 'must be 1 or 1/255'),
  );
  c.optional(input, 'fixedBatch', 'input.', (v, k) =>
    c.number(v, k, positiveInt, 'must be a positive integer'),
  );
  if (task === 'object-detection') {
    for (const key of ['width', 'height', 'resize', 'pixelFormat', 'scale'] as const) {
      if (input[key] === undefined) c.problem(`input.${key}`, 'is required for object-detection');
    }
  }
}

function checkFeatures(c: Checker, manifest: Json): void {
  if (manifest.features === undefined) {
    if (manifest.task === 'audio-tagging') c.problem('features', 'is required for audio-tagging');
    return;
  }
  const features = c.object(manifest.features, 'features');
  if (!features) return;
  c.number(features.windowSec, 'features.windowSec', positive, 'must be > 0');
  c.number(features.hopSec, 'features.hopSec', positive, 'must be > 0');
  c.optional(features, 'contextSec', 'features.', (v, k) =>
    c.number(v, k, (n) => n > Number(features.windowSec), 'must be longer than windowSec'),
  );
  const recipe = c.object(features.recipe, 'features.recipe');
  if (!recipe) return;
  const ints = ['sampleRate', 'nFft', 'hopLength', 'winLength', 'melBins'] as const;
  for (const key of ints) {
    c.number(recipe[key], `features.recipe.${key}`, positiveInt, 'must be a positive integer');
  }
  c.number(
    recipe.preEmphasis,
    'features.recipe.preEmphasis',
    (n) => n >= 0 && n < 1,
    'must be in [0, 1)',
  );
  c.number(recipe.fMin, 'features.recipe.fMin', (n) => n >= 0, 'must be >= 0');
  // Kaldi convention: fMax <= 0 means "this far below Nyquist".
  c.number(recipe.fMax, 'features.recipe.fMax');
  c.number(recipe.logOffset, 'features.recipe.logOffset', positive, 'must be > 0');
  c.number(recipe.normAdd, 'features.recipe.normAdd');
  c.number(recipe.normDiv, 'features.recipe.normDiv', (n) => n !== 0, 'must not be 0');
  if (
    typeof recipe.winLength === 'number' &&
    typeof recipe.nFft === 'number' &&
    recipe.winLength > recipe.nFft
  ) {
    c.problem('features.recipe.winLength', 'must not exceed nFft');
  }
  if (
    typeof recipe.fMax === 'number' &&
    typeof recipe.sampleRate === 'number' &&
    recipe.fMax > recipe.sampleRate / 2
  ) {
    c.problem('features.recipe.fMax', 'must not exceed sampleRate / 2');
  }
}

function checkLabelGroups(
  c: Checker,
  value: unknown,
  task: unknown,
  features: unknown,
  path = 'labelGroups',
): void {
  const groups = c.object(value, path);
  if (!groups) return;
  const hasContext = typeof features === 'object' && features !== null && 'contextSec' in features;
  const allowed: readonly string[] =
    task === 'object-detection' ? VIDEO_CLASSES : task === 'audio-tagging' ? AUDIO_CLASSES : [];
  for (const [cls, raw] of Object.entries(groups)) {
    const key = `${path}.${cls}`;
    if (allowed.length > 0 && !allowed.includes(cls)) {
      c.problem(
        key,
        `is not a canonical class for ${String(task)} (allowed: ${allowed.join(', ')})`,
      );
    }
    const group = c.object(raw, key);
    if (!group) continue;
    checkDecision(c, group, key, hasContext);
    c.optional(group, 'release', `${key}.`, (v, k) =>
      c.number(v, k, (n) => n >= 0 && n <= Number(group.threshold), 'must be in [0, threshold]'),
    );
    if ('anyOf' in group && 'allOf' in group) c.problem(key, 'has anyOf or allOf, not both');
    // The box mapper reads one decision per class: a pair there would be silently ignored.
    if (task !== 'audio-tagging' && ('anyOf' in group || 'allOf' in group)) {
      c.problem(key, 'anyOf and allOf are for audio-tagging models');
    }
    for (const rule of ['anyOf', 'allOf'])
      c.optional(group, rule, `${key}.`, (v, k) => {
        if (!Array.isArray(v) || v.length < 2) {
          c.problem(k, 'must be an array of at least two decisions');
          return;
        }
        v.forEach((raw, i) => {
          const member = c.object(raw, `${k}[${i}]`);
          if (!member) return;
          if ('anyOf' in member || 'allOf' in member || 'release' in member) {
            c.problem(
              `${k}[${i}]`,
              'a member decides one window: no anyOf, allOf or release of its own',
            );
          }
          checkDecision(c, member, `${k}[${i}]`, hasContext);
        });
      });
  }
}

/** One decision on a window: labels, threshold, and a combine rule or learned head. */
function checkDecision(c: Checker, group: Json, key: string, hasContext: boolean): void {
  if (!Array.isArray(group.labels) || group.labels.length === 0) {
    c.problem(`${key}.labels`, 'must be a non-empty array of label names');
  } else {
    group.labels.forEach((label, i) => c.string(label, `${key}.labels[${i}]`));
  }
  c.number(group.threshold, `${key}.threshold`, unit, 'must be in [0, 1]');
  c.optional(group, 'combine', `${key}.`, (v, k) => c.oneOf(v, k, COMBINE_RULES));
  c.optional(group, 'head', `${key}.`, (v, k) => {
    const head = c.object(v, k);
    if (!head) return;
    const count = Array.isArray(group.labels) ? group.labels.length : 0;
    if (!Array.isArray(head.weights) || head.weights.length !== count) {
      c.problem(`${k}.weights`, `must be ${count} numbers, one per label`);
    } else head.weights.forEach((w, i) => c.number(w, `${k}.weights[${i}]`));
    c.number(head.bias, `${k}.bias`);
  });
  c.optional(group, 'context', `${key}.`, (v, k) => {
    if (typeof v !== 'boolean') c.problem(k, 'must be true or false');
    else if (v && !hasContext) c.problem(k, 'needs features.contextSec');
  });
}

function checkDecisions(c: Checker, value: unknown, groups: unknown): void {
  const decisions = c.object(value, 'decisions');
  if (!decisions) return;
  const known = typeof groups === 'object' && groups !== null ? Object.keys(groups) : [];
  if (decisions.exclusive !== undefined) {
    if (!Array.isArray(decisions.exclusive))
      c.problem('decisions.exclusive', 'must be a list of class lists');
    else
      decisions.exclusive.forEach((group, i) => {
        if (!Array.isArray(group) || group.length < 2) {
          return c.problem(`decisions.exclusive[${i}]`, 'must list at least two classes');
        }
        group.forEach((cls, k) => {
          if (!known.includes(cls as string)) {
            c.problem(
              `decisions.exclusive[${i}][${k}]`,
              `must be a class of labelGroups (got ${JSON.stringify(cls)})`,
            );
          }
        });
      });
  }
  c.optional(decisions, 'exclusiveSec', 'decisions.', (v, k) =>
    c.number(v, k, positive, 'must be > 0'),
  );
  c.optional(decisions, 'baseline', 'decisions.', (v, k) => {
    const baseline = c.object(v, k);
    if (!baseline) return;
    c.number(baseline.windows, `${k}.windows`, positiveInt, 'must be a positive integer');
    c.number(baseline.minWindows, `${k}.minWindows`, positiveInt, 'must be a positive integer');
    c.number(baseline.marginLogit, `${k}.marginLogit`);
    c.number(baseline.ceiling, `${k}.ceiling`, unit, 'must be in [0, 1]');
  });
}

const SHA256 = /^[0-9a-f]{64}$/;

function checkPrecision(c: Checker, m: Json): void {
  c.optional(m, 'precision', '', (v, k) => c.oneOf(v, k, PRECISIONS));
  if (m.precision === 'int8') {
    // A quantized file must say what it was made from, so a stale one can be told apart.
    const q = c.object(m.quantization, 'quantization');
    if (q) {
      const src = c.object(q.source, 'quantization.source');
      if (src) {
        c.string(src.name, 'quantization.source.name');
        c.string(src.file, 'quantization.source.file');
        c.string(
          src.sha256,
          'quantization.source.sha256',
          SHA256,
          'must be 64 lowercase hex digits',
        );
      }
      c.string(q.method, 'quantization.method');
    }
    if (m.int8 !== undefined) c.problem('int8', 'belongs on the FP32 entry, not on an int8 model');
  }
  c.optional(m, 'int8', '', (v, k) => {
    const plan = c.object(v, k);
    if (!plan) return;
    c.string(plan.method, `${k}.method`);
    c.optional(plan, 'verdict', `${k}.`, (vv, kk) => {
      const verdict = c.object(vv, kk);
      if (!verdict) return;
      if (typeof verdict.ship !== 'boolean') c.problem(`${kk}.ship`, 'must be true or false');
      c.number(verdict.maxF1Drop, `${kk}.maxF1Drop`);
      const speedup = c.object(verdict.speedup, `${kk}.speedup`);
      if (speedup) {
        c.number(speedup.threads1, `${kk}.speedup.threads1`, positive, 'must be > 0');
        c.number(speedup.threads2, `${kk}.speedup.threads2`, positive, 'must be > 0');
      }
      c.string(verdict.note, `${kk}.note`);
    });
  });
}

/** Checks an untrusted value (a parsed model.json) and returns it typed, or throws naming every bad key. */
export function validateManifest(value: unknown, source = 'model.json'): ModelManifest {
  const c = new Checker();
  const m = c.object(value, '(root)');
  if (!m) throw new ManifestError(source, c.problems);

  c.string(m.name, 'name', /^[a-z0-9][a-z0-9._-]*$/i, 'must be letters, digits, ".", "_" or "-"');
  c.oneOf(m.task, 'task', MODEL_TASKS);
  c.string(m.file, 'file', PLAIN_FILE, PLAIN_FILE_HINT);
  c.string(m.sha256, 'sha256', /^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
  c.number(m.sizeBytes, 'sizeBytes', positiveInt, 'must be a positive integer');
  const upstream = c.object(m.upstream, 'upstream');
  if (upstream) {
    c.string(upstream.url, 'upstream.url', /^https:\/\//, 'must be an https:// URL');
    c.string(upstream.note, 'upstream.note');
    if (typeof upstream.pullable !== 'boolean')
      c.problem('upstream.pullable', 'must be true or false');
  }
  c.string(m.license, 'license');
  const labels = c.object(m.labels, 'labels');
  if (labels) {
    c.string(labels.file, 'labels.file', PLAIN_FILE, PLAIN_FILE_HINT);
    c.oneOf(labels.format, 'labels.format', LABEL_FORMATS);
    if (labels.sha256 !== undefined) {
      c.string(labels.sha256, 'labels.sha256', /^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
    }
    if (labels.url !== undefined) {
      c.string(labels.url, 'labels.url', /^https:\/\//, 'must be an https:// URL');
    }
  }
  checkInput(c, m.input, m.task);
  checkFeatures(c, m);
  const output = c.object(m.output, 'output');
  if (output) {
    c.string(output.name, 'output.name');
    c.oneOf(output.decoder, 'output.decoder', OUTPUT_DECODERS);
    const audioDecoder = output.decoder === 'sigmoid-multilabel';
    if (m.task === 'audio-tagging' && !audioDecoder) {
      c.problem('output.decoder', 'must be sigmoid-multilabel for audio-tagging');
    }
    if (m.task === 'audio-companion' && output.decoder !== 'probabilities') {
      c.problem('output.decoder', 'must be probabilities for audio-companion');
    }
    if (m.task === 'object-detection' && audioDecoder) {
      c.problem('output.decoder', 'must be a box decoder (yolox, fastestdet) for object-detection');
    }
  }
  checkLabelGroups(c, m.labelGroups, m.task, m.features);
  if (m.decisions !== undefined) checkDecisions(c, m.decisions, m.labelGroups);
  c.optional(m, 'companion', '', (v, k) => {
    const companion = c.object(v, k);
    if (!companion) return;
    if (m.task !== 'audio-tagging') c.problem(k, 'is for audio-tagging models');
    const models = companion.models;
    if (!Array.isArray(models) || models.length === 0) {
      c.problem(`${k}.models`, 'must be a non-empty list of model names');
    } else {
      models.forEach((name, i) =>
        c.string(name, `${k}.models[${i}]`, /^[a-z0-9][a-z0-9._-]*$/i, 'must be a model name'),
      );
      if (new Set(models).size !== models.length) c.problem(`${k}.models`, 'names a model twice');
    }
    checkLabelGroups(c, companion.labelGroups, m.task, m.features, `${k}.labelGroups`);
  });
  if (m.nms !== undefined) {
    const nms = c.object(m.nms, 'nms');
    if (nms) {
      c.number(nms.iou, 'nms.iou', unit, 'must be in [0, 1]');
      c.number(nms.scoreThreshold, 'nms.scoreThreshold', unit, 'must be in [0, 1]');
    }
    // Boxes under the decoder's cut never reach the label groups, so a lower class threshold would be a silent no-op.
    const cut = nms?.scoreThreshold;
    const groups = typeof m.labelGroups === 'object' && m.labelGroups !== null ? m.labelGroups : {};
    for (const [cls, group] of Object.entries(groups as Json)) {
      const threshold = (group as Json | null)?.threshold;
      if (typeof cut === 'number' && typeof threshold === 'number' && threshold < cut) {
        c.problem(`labelGroups.${cls}.threshold`, `must not be below nms.scoreThreshold (${cut})`);
      }
    }
  } else if (m.task === 'object-detection') {
    c.problem('nms', 'is required for object-detection');
  }

  checkPrecision(c, m);

  if (c.problems.length > 0) throw new ManifestError(source, c.problems);
  return value as ModelManifest;
}
