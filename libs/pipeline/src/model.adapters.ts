import type { Detection, VideoFrame } from '@app/contracts';
import {
  type ClassScore,
  type LoadedAudioModel,
  type LoadedVideoModel,
  type Precision,
  ClassDecider,
  decisionPolicyOf,
} from '@app/models';
import type { AudioClassifier, FrameDetector } from './pipeline.ports';

/** An audio tagger plus its label groups, seen by the stages as one classifier. */
export class TaggerClassifier implements AudioClassifier {
  readonly name: string;
  readonly precision: Precision;

  constructor(private readonly model: LoadedAudioModel) {
    this.name = model.manifest.name;
    this.precision = model.precision;
  }

  async score(windows: readonly { data: Float32Array; frames: number }[]): Promise<ClassScore[][]> {
    const scores = await this.model.tagger.classify(windows);
    return scores.map((s) => this.model.mapper.score(s));
  }

  decider(): ClassDecider {
    return new ClassDecider(decisionPolicyOf(this.model.manifest));
  }
}

/** An object detector plus its label groups, seen by the stages as one frame detector. */
export class BoxDetector implements FrameDetector {
  readonly name: string;
  readonly precision: Precision;

  constructor(private readonly model: LoadedVideoModel) {
    this.name = model.manifest.name;
    this.precision = model.precision;
  }

  async detect(frame: VideoFrame): Promise<Detection[]> {
    return this.model.mapper.detect(await this.model.detector.detect(frame));
  }
}
