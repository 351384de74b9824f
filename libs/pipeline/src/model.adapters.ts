import type { Detection, VideoFrame } from '@app/contracts';
import { WindowContextBuilder } from '@app/dsp';
import {
  type ClassScore,
  type LoadedAudioModel,
  type LoadedVideoModel,
  type Precision,
  ClassDecider,
  decisionPolicyOf,
} from '@app/models';
import type { AudioClassifier, AudioInput, FrameDetector } from './pipeline.ports';

/** An audio tagger plus its label groups, seen by the stages as one classifier. */
export class TaggerClassifier implements AudioClassifier {
  readonly name: string;
  readonly precision: Precision;

  constructor(private readonly model: LoadedAudioModel) {
    this.name = model.manifest.name;
    this.precision = model.precision;
  }

  /**
   * Windows and their contexts go through the tagger in one call (it batches equal lengths). A
   * context no longer than its window is the window itself, and is not run twice.
   */
  async score(windows: readonly AudioInput[]): Promise<ClassScore[][]> {
    const longer = (w: AudioInput) => (w.context && w.context.frames > w.frames ? w.context : null);
    const contexts = windows.map(longer).filter((c) => c !== null);
    const scores = await this.model.tagger.classify([...windows, ...contexts]);
    let next = windows.length;
    return windows.map((w, i) =>
      this.model.mapper.score(scores[i]!, longer(w) ? scores[next++]! : scores[i]!),
    );
  }

  decider(): ClassDecider {
    return new ClassDecider(decisionPolicyOf(this.model.manifest));
  }

  context(): WindowContextBuilder | undefined {
    const features = this.model.manifest.features!;
    const used = Object.values(this.model.manifest.labelGroups).some((g) => g?.context);
    if (!features.contextSec || !used) return undefined;
    const frameSec = features.recipe.hopLength / features.recipe.sampleRate;
    return new WindowContextBuilder({
      melBins: features.recipe.melBins,
      frameSec,
      contextFrames: Math.round(features.contextSec / frameSec),
    });
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
