import type { ModelManifest, Precision } from './model.manifest';
import type { ModelRepository } from './model.repository';

/** What a user may ask for: `auto` follows each model's measured INT8 verdict. */
export const PRECISION_CHOICES = ['auto', 'int8', 'fp32'] as const;
export type PrecisionChoice = (typeof PRECISION_CHOICES)[number];

export enum PrecisionErrorCode {
  /** INT8 asked for, and no `<name>-int8` folder is found. */
  NO_INT8_VARIANT = 'no-int8-variant',
  /** The `<name>-int8` found was made from other FP32 weights than the catalog's. */
  STALE_INT8_VARIANT = 'stale-int8-variant',
  /** FP32 asked for by naming an INT8 model. */
  NOT_FP32 = 'not-fp32',
}

export class PrecisionError extends Error {
  constructor(
    readonly code: PrecisionErrorCode,
    readonly model: string,
    message: string,
  ) {
    super(message);
    this.name = 'PrecisionError';
  }
}

export interface ResolvedPrecision {
  /** The model folder to load: the name asked for, or its `-int8` variant. */
  model: string;
  precision: Precision;
  /** Why, for the log line that names the precision in use. */
  reason: string;
}

/** The repository calls the resolver makes: the seam its unit tests mock. */
export type PrecisionRepository = Pick<ModelRepository, 'manifest' | 'isInstalled' | 'modelsDir'>;

/** The INT8 variant of model `name` is the folder `<name>-int8` (scripts/quantize writes it). */
export const int8VariantOf = (name: string): string => `${name}-int8`;

/**
 * Picks FP32 or INT8 per model. `auto` takes INT8 only where the FP32 catalog entry records a
 * verdict that shipped it (per-class F1 within the bar and faster on the bench) and the variant
 * made from these very weights is on disk; otherwise FP32, so a machine without the generated
 * files keeps working. An explicit `int8` without a usable variant is an error, not a fallback.
 */
export class PrecisionResolver {
  constructor(private readonly repository: PrecisionRepository) {}

  resolve(name: string, choice: PrecisionChoice): ResolvedPrecision {
    const manifest = this.repository.manifest(name);
    if (manifest.precision === 'int8') {
      if (choice === 'fp32') {
        throw new PrecisionError(
          PrecisionErrorCode.NOT_FP32,
          name,
          `${name} is an INT8 model and fp32 precision was asked for: name its FP32 source ` +
            `(${manifest.quantization?.source.name ?? 'unknown'}) instead`,
        );
      }
      return { model: name, precision: 'int8', reason: 'named directly' };
    }
    if (choice === 'fp32') return { model: name, precision: 'fp32', reason: 'asked for' };
    const variant = int8VariantOf(name);
    const problem = this.variantProblem(name, manifest, variant);
    if (choice === 'int8') {
      if (problem) {
        throw new PrecisionError(problem.code, name, `${problem.message}; or use fp32 precision`);
      }
      return { model: variant, precision: 'int8', reason: 'asked for' };
    }
    const verdict = manifest.int8?.verdict;
    if (!verdict) {
      return { model: name, precision: 'fp32', reason: 'auto: no INT8 verdict recorded' };
    }
    const measured =
      `${verdict.speedup.threads1}x/${verdict.speedup.threads2}x speed on 1/2 threads, ` +
      `largest F1 drop ${verdict.maxF1Drop}`;
    if (!verdict.ship) {
      return { model: name, precision: 'fp32', reason: `auto: INT8 not shipped (${measured})` };
    }
    if (problem) {
      return { model: name, precision: 'fp32', reason: `auto: ${problem.message}` };
    }
    return { model: variant, precision: 'int8', reason: `auto: ${measured}` };
  }

  private variantProblem(
    name: string,
    manifest: ModelManifest,
    variant: string,
  ): PrecisionError | undefined {
    if (!this.repository.isInstalled(variant)) {
      const how = manifest.int8
        ? 'make it with `npm run quantize` (scripts/quantize) and list its output folder ' +
          '(.cache/models-int8) in VIGIL_MODELS_DIR'
        : `the catalog plans none for ${name}`;
      return new PrecisionError(
        PrecisionErrorCode.NO_INT8_VARIANT,
        name,
        `no INT8 variant of ${name} (${variant}) in ${this.repository.modelsDir}: ${how}`,
      );
    }
    const quantized = this.repository.manifest(variant);
    const source = quantized.quantization?.source;
    if (quantized.precision !== 'int8' || source?.sha256 !== manifest.sha256) {
      return new PrecisionError(
        PrecisionErrorCode.STALE_INT8_VARIANT,
        name,
        `${variant} was not made from ${name}'s weights (sha256 ${manifest.sha256.slice(0, 12)}…, ` +
          `it names ${source?.sha256.slice(0, 12) ?? 'none'}…): run \`npm run quantize\` again`,
      );
    }
    return undefined;
  }
}
