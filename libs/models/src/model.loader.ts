import { AudioTagger } from './audio-tagger.runner';
import type { AudioTaggerOptions } from './audio-tagger.runner';
import { BoxLabelMapper } from './box-label.mapper';
import { COMPANION_MODELS, type CompanionModel } from './companion.models';
import { LabelGroupMapper } from './label-group.mapper';
import type { ModelManifest, Precision } from './model.manifest';
import type { ModelRepository } from './model.repository';
import { ObjectDetector } from './object-detector.runner';
import type { ModelsLogger, OnnxSessionFactory } from './onnx-session.factory';
import { type PrecisionChoice, PrecisionResolver } from './precision.resolver';
import { SessionPool } from './session.pool';
import { ModelNotFoundError } from './model.repository';

/** The audio models heard beside the tagger (see `ModelManifest.companion`). */
export interface LoadedCompanion {
  /** Their names joined, as the models in use are named: `yamnet+ced-tiny`. */
  name: string;
  models: CompanionModel[];
  /**
   * The companion label groups over the tagger's labels, then each model's own as
   * `<name>:<label>`, in the manifest's order.
   */
  mapper: LabelGroupMapper;
}

export interface LoadedAudioModel {
  manifest: ModelManifest;
  labels: string[];
  /** The precision in use (the manifest is the variant's: `<name>-int8` under int8). */
  precision: Precision;
  tagger: AudioTagger;
  /** The tagger's own label groups: what decides a window the companions did not all hear. */
  mapper: LabelGroupMapper;
  companion?: LoadedCompanion;
}

export interface LoadedVideoModel {
  manifest: ModelManifest;
  labels: string[];
  precision: Precision;
  detector: ObjectDetector;
  mapper: BoxLabelMapper;
}

export interface ModelLoaderOptions {
  /** Per modality; `auto` (the default) follows each model's recorded INT8 verdict. */
  precision?: { audio?: PrecisionChoice; video?: PrecisionChoice };
  /** Detector sessions, each on a worker thread of its own (1 by default); see SessionPool. */
  detectorWorkers?: number;
  /**
   * Whether the audio model's companions run where they are installed (the default); false
   * keeps to the tagger's own label groups.
   */
  companion?: boolean;
  logger?: ModelsLogger;
}

/** Wires a model from the repository to a session and its label groups. */
export class ModelLoader {
  private readonly precisions: PrecisionResolver;

  constructor(
    private readonly repository: ModelRepository,
    private readonly sessions: OnnxSessionFactory,
    private readonly options: ModelLoaderOptions = {},
  ) {
    this.precisions = new PrecisionResolver(repository);
  }

  /** `name` is the FP32 model's; its INT8 variant loads where the precision choice says so. */
  async audio(name: string, options?: AudioTaggerOptions): Promise<LoadedAudioModel> {
    const { model, precision } = this.choose(name, this.options.precision?.audio);
    const { manifest, onnxPath } = this.resolveTuned(name, model);
    if (manifest.task !== 'audio-tagging')
      throw new Error(`${name} is a ${manifest.task} model, not audio-tagging`);
    const labels = this.repository.labels(model);
    const companion = this.companionsOf(manifest);
    // Build the mappers first: a label-group typo should fail before a session is paid for.
    const mapper = new LabelGroupMapper(labels, manifest.labelGroups, 'audio');
    const joined = companion && [
      ...labels,
      ...companion.models.flatMap(({ name }) =>
        this.repository.labels(name).map((l) => `${name}:${l}`),
      ),
    ];
    const companionMapper = joined && new LabelGroupMapper(joined, companion.labelGroups, 'audio');
    const tagger = new AudioTagger(await this.sessions.create(onnxPath), manifest, options);
    if (!companion || !companionMapper) return { manifest, labels, precision, tagger, mapper };
    const models = await Promise.all(
      companion.models.map(async ({ name, onnxPath, io }) =>
        COMPANION_MODELS[name]!(await this.sessions.create(onnxPath), io),
      ),
    );
    return {
      manifest,
      labels,
      precision,
      tagger,
      mapper,
      companion: {
        name: models.map((m) => m.name).join('+'),
        models,
        mapper: companionMapper,
      },
    };
  }

  /**
   * The companions to load, or none: not named, turned off, or one of them not installed (said
   * once, naming the command that installs them).
   */
  private companionsOf(manifest: ModelManifest) {
    const named = manifest.companion;
    if (!named || this.options.companion === false) return undefined;
    const unknown = named.models.filter((name) => !COMPANION_MODELS[name]);
    if (unknown.length > 0) {
      throw new Error(
        `${manifest.name}: companion ${unknown.join(', ')} is not one Vigil can run (${Object.keys(COMPANION_MODELS).join(', ')})`,
      );
    }
    const models = [];
    const missing: string[] = [];
    for (const name of named.models) {
      try {
        const resolved = this.repository.resolve(name);
        if (resolved.manifest.task !== 'audio-companion') {
          throw new Error(`${name} is a ${resolved.manifest.task} model, not audio-companion`);
        }
        const { input, output } = resolved.manifest;
        models.push({
          name,
          onnxPath: resolved.onnxPath,
          io: { input: input.name, output: output.name },
        });
      } catch (error) {
        if (!(error instanceof ModelNotFoundError)) throw error;
        missing.push(name);
      }
    }
    if (missing.length > 0) {
      // Not a warning: running mn04 alone is a supported setup, and the CLI keeps stderr for
      // what went wrong. analyze and eval name the models in use.
      this.options.logger?.log(
        `${manifest.name}: its companion ${missing.join(', ')} is not installed (npm run models:companions); ` +
          `deciding on ${manifest.name} alone, which misses more gunshots, screams, alarms and horns`,
      );
      return undefined;
    }
    return { models, labelGroups: named.labelGroups };
  }

  async video(name: string): Promise<LoadedVideoModel> {
    const { model, precision } = this.choose(name, this.options.precision?.video);
    const { manifest, onnxPath } = this.resolveTuned(name, model);
    if (manifest.task !== 'object-detection') {
      throw new Error(`${name} is a ${manifest.task} model, not object-detection`);
    }
    const labels = this.repository.labels(model);
    const mapper = new BoxLabelMapper(labels, manifest.labelGroups, manifest.nms?.iou);
    const workers = this.options.detectorWorkers ?? 1;
    const sessions = await Promise.all(
      Array.from({ length: workers }, () => this.sessions.create(onnxPath)),
    );
    const session = sessions.length === 1 ? sessions[0]! : new SessionPool(sessions);
    const detector = new ObjectDetector(session, manifest, labels);
    return { manifest, labels, precision, detector, mapper };
  }

  /**
   * A variant runs with its FP32 model's tuning as in effect now (label groups, thresholds,
   * decisions, windows, NMS), not the copy its model.json took when it was made: retuning the
   * catalog must not need a re-quantization, and the INT8 verdict was measured with this tuning.
   */
  private resolveTuned(name: string, model: string) {
    const resolved = this.repository.resolve(model);
    if (model === name) return resolved;
    const tuning = this.repository.manifest(name);
    const manifest: ModelManifest = {
      ...resolved.manifest,
      labelGroups: tuning.labelGroups,
      ...(tuning.decisions ? { decisions: tuning.decisions } : {}),
      ...(tuning.features ? { features: tuning.features } : {}),
      ...(tuning.nms ? { nms: tuning.nms } : {}),
      ...(tuning.companion ? { companion: tuning.companion } : {}),
    };
    return { ...resolved, manifest };
  }

  private choose(name: string, choice: PrecisionChoice = 'auto') {
    const chosen = this.precisions.resolve(name, choice);
    this.options.logger?.log(`${name}: ${chosen.precision} (${chosen.model}; ${chosen.reason})`);
    return chosen;
  }
}
