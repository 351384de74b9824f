import { AudioTagger } from './audio-tagger.runner';
import type { AudioTaggerOptions } from './audio-tagger.runner';
import { BoxLabelMapper } from './box-label.mapper';
import { LabelGroupMapper } from './label-group.mapper';
import type { ModelManifest } from './model.manifest';
import type { ModelRepository } from './model.repository';
import { ObjectDetector } from './object-detector.runner';
import type { OnnxSessionFactory } from './onnx-session.factory';

export interface LoadedAudioModel {
  manifest: ModelManifest;
  labels: string[];
  tagger: AudioTagger;
  mapper: LabelGroupMapper;
}

export interface LoadedVideoModel {
  manifest: ModelManifest;
  labels: string[];
  detector: ObjectDetector;
  mapper: BoxLabelMapper;
}

/** Wires a model from the repository to a session and its label groups. */
export class ModelLoader {
  constructor(
    private readonly repository: ModelRepository,
    private readonly sessions: OnnxSessionFactory,
  ) {}

  async audio(name: string, options?: AudioTaggerOptions): Promise<LoadedAudioModel> {
    const { manifest, onnxPath } = this.repository.resolve(name);
    if (manifest.task !== 'audio-tagging')
      throw new Error(`${name} is a ${manifest.task} model, not audio-tagging`);
    const labels = this.repository.labels(name);
    // Build the mapper first: a label-group typo should fail before a session is paid for.
    const mapper = new LabelGroupMapper(labels, manifest.labelGroups, 'audio');
    const tagger = new AudioTagger(await this.sessions.create(onnxPath), manifest, options);
    return { manifest, labels, tagger, mapper };
  }

  async video(name: string): Promise<LoadedVideoModel> {
    const { manifest, onnxPath } = this.repository.resolve(name);
    if (manifest.task !== 'object-detection') {
      throw new Error(`${name} is a ${manifest.task} model, not object-detection`);
    }
    const labels = this.repository.labels(name);
    const mapper = new BoxLabelMapper(labels, manifest.labelGroups, manifest.nms?.iou);
    const detector = new ObjectDetector(await this.sessions.create(onnxPath), manifest, labels);
    return { manifest, labels, detector, mapper };
  }
}
