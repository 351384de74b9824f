import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseLabelFile } from './label-file.parser';
import { MODEL_CATALOG } from './model.catalog';
import { ManifestError, validateManifest } from './model.manifest';
import type { ModelManifest } from './model.manifest';

/** Where `vigil models pull` puts models when VIGIL_MODELS_DIR is not set. */
export function userModelsDir(home: string = homedir()): string {
  return join(home, '.cache', 'vigil', 'models');
}

export class ModelNotFoundError extends Error {
  constructor(
    readonly model: string,
    readonly modelsDir: string,
    detail?: string,
  ) {
    super(
      `model ${model} not found in ${modelsDir}${detail ? ` (${detail})` : ''}; ` +
        `run \`vigil models pull ${model}\` or set VIGIL_MODELS_DIR`,
    );
    this.name = 'ModelNotFoundError';
  }
}

export interface ResolvedModel {
  name: string;
  dir: string;
  manifest: ModelManifest;
  /** `folder` when the model folder's own model.json replaced (or supplied) the catalog entry. */
  manifestSource: 'catalog' | 'folder';
  onnxPath: string;
  labelsPath: string;
}

export interface VerifyResult {
  name: string;
  path: string;
  ok: boolean;
  expectedSha256: string;
  actualSha256: string;
  expectedSizeBytes: number;
  actualSizeBytes: number;
  /** The labels file matches the manifest's sha256 (true when the manifest names none). */
  labelsOk: boolean;
  /**
   * A quantized model only: whether the FP32 file it was made from is the one the catalog
   * names now (false: made from other weights; run the quantizer again).
   */
  sourceOk?: boolean;
}

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

/**
 * Finds models on disk. A folder `<modelsDir>/<name>` holds the .onnx and labels; its own
 * `model.json`, when present, replaces the catalog entry wholesale, which is how users bring
 * their own models or retune a catalogued one without a release.
 *
 * `modelsDir` may list several folders like PATH (`:` on POSIX): the first holding a model's
 * folder wins, and pulls go to the first. Generated models (the INT8 variants that
 * scripts/quantize makes) then live in a folder of their own beside the downloaded ones.
 */
export class ModelRepository {
  private readonly labelCache = new Map<string, string[]>();
  /** The folders searched, in order. */
  readonly roots: readonly string[];

  constructor(
    readonly modelsDir: string,
    private readonly catalog: Readonly<Record<string, ModelManifest>> = MODEL_CATALOG,
  ) {
    this.roots = modelsDir.split(delimiter).filter((dir) => dir.length > 0);
    if (this.roots.length === 0) throw new Error('no models folder given');
  }

  /** Catalogued names, then user and generated models found only on disk. */
  names(): string[] {
    const names = Object.keys(this.catalog);
    for (const root of this.roots) {
      if (!existsSync(root)) continue;
      for (const entry of readdirSync(root, { withFileTypes: true })) {
        const isUserModel =
          entry.isDirectory() &&
          MODEL_NAME.test(entry.name) &&
          !names.includes(entry.name) &&
          existsSync(join(root, entry.name, 'model.json'));
        if (isUserModel) names.push(entry.name);
      }
    }
    return names;
  }

  folder(name: string): string {
    // The name becomes a path segment; reject anything that could climb out of modelsDir.
    if (!MODEL_NAME.test(name)) throw new Error(`invalid model name ${JSON.stringify(name)}`);
    const found = this.roots.find((root) => existsSync(join(root, name)));
    return join(found ?? this.roots[0]!, name);
  }

  /** Whether the model's files are on disk (its manifest may still be invalid). */
  isInstalled(name: string): boolean {
    try {
      this.resolve(name);
      return true;
    } catch (error) {
      if (error instanceof ModelNotFoundError) return false;
      throw error;
    }
  }

  /** The manifest in effect; needs no model files (a pull reads it before they exist). */
  manifest(name: string): ModelManifest {
    return this.manifestWithSource(name).manifest;
  }

  /** Manifest plus file paths; throws {@link ModelNotFoundError} when a file is missing. */
  resolve(name: string): ResolvedModel {
    const dir = this.folder(name);
    const { manifest, source } = this.manifestWithSource(name);
    const onnxPath = join(dir, manifest.file);
    const labelsPath = join(dir, manifest.labels.file);
    if (!existsSync(onnxPath))
      throw new ModelNotFoundError(name, this.modelsDir, `no ${manifest.file}`);
    if (!existsSync(labelsPath)) {
      throw new ModelNotFoundError(name, this.modelsDir, `no ${manifest.labels.file}`);
    }
    return { name, dir, manifest, manifestSource: source, onnxPath, labelsPath };
  }

  onnxPath(name: string): string {
    return this.resolve(name).onnxPath;
  }

  /** Labels in model output order. */
  labels(name: string): string[] {
    const cached = this.labelCache.get(name);
    if (cached) return cached;
    const { manifest, labelsPath } = this.resolve(name);
    const labels = parseLabelFile(
      readFileSync(labelsPath, 'utf8'),
      manifest.labels.format,
      labelsPath,
    );
    this.labelCache.set(name, labels);
    return labels;
  }

  /** Hashes the .onnx as a stream (models can be large) and compares with the manifest. */
  async verify(name: string): Promise<VerifyResult> {
    const { manifest, onnxPath, labelsPath } = this.resolve(name);
    const labelsSha256 = createHash('sha256').update(readFileSync(labelsPath)).digest('hex');
    const labelsOk =
      manifest.labels.sha256 === undefined || manifest.labels.sha256 === labelsSha256;
    const hash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      createReadStream(onnxPath)
        .on('data', (chunk) => hash.update(chunk))
        .on('error', reject)
        .on('end', resolve);
    });
    const actualSha256 = hash.digest('hex');
    const actualSizeBytes = statSync(onnxPath).size;
    const source = manifest.quantization?.source;
    const sourceOk =
      source === undefined ? undefined : this.catalog[source.name]?.sha256 === source.sha256;
    return {
      name,
      path: onnxPath,
      ok:
        actualSha256 === manifest.sha256 &&
        actualSizeBytes === manifest.sizeBytes &&
        labelsOk &&
        sourceOk !== false,
      labelsOk,
      ...(sourceOk === undefined ? {} : { sourceOk }),
      expectedSha256: manifest.sha256,
      actualSha256,
      expectedSizeBytes: manifest.sizeBytes,
      actualSizeBytes,
    };
  }

  private manifestWithSource(name: string): {
    manifest: ModelManifest;
    source: 'catalog' | 'folder';
  } {
    const override = join(this.folder(name), 'model.json');
    if (existsSync(override)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(override, 'utf8'));
      } catch (err) {
        throw new ManifestError(override, [`(root): not valid JSON: ${(err as Error).message}`]);
      }
      const manifest = validateManifest(parsed, override);
      if (manifest.name !== name) {
        throw new ManifestError(override, [`name: must equal the folder name "${name}"`]);
      }
      return { manifest, source: 'folder' };
    }
    const entry = this.catalog[name];
    if (!entry) {
      throw new ModelNotFoundError(
        name,
        this.modelsDir,
        `not in the catalog (${Object.keys(this.catalog).join(', ')}) and no ${name}/model.json`,
      );
    }
    return { manifest: entry, source: 'catalog' };
  }
}
