import { YAMNET_RECIPE } from '@app/dsp';
import { AudioTagger } from './audio-tagger.runner';
import type { AudioTaggerOptions } from './audio-tagger.runner';
import { BoxLabelMapper } from './box-label.mapper';
import { LabelGroupMapper } from './label-group.mapper';
import type { ModelManifest, Precision } from './model.manifest';
import type { ModelRepository } from './model.repository';
import { ObjectDetector } from './object-detector.runner';
import type { ModelsLogger, OnnxSessionFactory } from './onnx-session.factory';
import { type PrecisionChoice, PrecisionResolver } from './precision.resolver';
import { SessionPool } from './session.pool';
import { ModelNotFoundError } from './model.repository';
import { YamnetRunner } from './yamnet.runner';

/** The second audio model heard beside the tagger (see `ModelManifest.companion`). */
export interface LoadedCompanion {
  name: string;
  runner: YamnetRunner;
  /** The companion's label groups over the tagger's labels, then its own as `<name>:<label>`. */
  mapper: LabelGroupMapper;
}

export interface LoadedAudioModel {
  manifest: ModelManifest;
  labels: string[];
  /** The precision in use (the manifest is the variant's: `<name>-int8` under int8). */
  precision: Precision;
  tagger: AudioTagger;
  /** The tagger's own label groups: what decides a window the companion did not hear. */
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
   * Whether the audio model's companion runs where it is installed (the default); false keeps
   * to the tagger's own label groups.
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
    const companion = this.companionOf(manifest);
    // Build the mappers first: a label-group typo should fail before a session is paid for.
    const mapper = new LabelGroupMapper(labels, manifest.labelGroups, 'audio');
    const both = companion && [
      ...labels,
      ...this.repository.labels(companion.name).map((l) => `${companion.name}:${l}`),
    ];
    const companionMapper = both && new LabelGroupMapper(both, companion.labelGroups, 'audio');
    const tagger = new AudioTagger(await this.sessions.create(onnxPath), manifest, options);
    if (!companion || !companionMapper) return { manifest, labels, precision, tagger, mapper };
    const runner = new YamnetRunner(
      await this.sessions.create(companion.onnxPath),
      YAMNET_RECIPE,
      companion.io,
    );
    return {
      manifest,
      labels,
      precision,
      tagger,
      mapper,
      companion: { name: companion.name, runner, mapper: companionMapper },
    };
  }

  /** The companion to load, or none: not named, turned off, or not installed (said once). */
  private companionOf(manifest: ModelManifest) {
    const named = manifest.companion;
    if (!named || this.options.companion === false) return undefined;
    if (named.model !== 'yamnet') {
      throw new Error(
        `${manifest.name}: companion ${named.model} is not one Vigil can run (yamnet)`,
      );
    }
    try {
      const resolved = this.repository.resolve(named.model);
      if (resolved.manifest.task !== 'audio-companion') {
        throw new Error(`${named.model} is a ${resolved.manifest.task} model, not audio-companion`);
      }
      const { input, output } = resolved.manifest;
      return {
        name: named.model,
        labelGroups: named.labelGroups,
        onnxPath: resolved.onnxPath,
        io: { input: input.name, output: output.name },
      };
    } catch (error) {
      if (!(error instanceof ModelNotFoundError)) throw error;
      // Not a warning: running mn04 alone is a supported setup, and the CLI keeps stderr for
      // what went wrong. analyze and eval name the models in use.
      this.options.logger?.log(
        `${manifest.name}: its companion ${named.model} is not installed (npm run models:yamnet); ` +
          `deciding on ${manifest.name} alone, which misses more gunshots, screams and horns`,
      );
      return undefined;
    }
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
