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
   *
   * With a companion, the patches go through it in one call too, and a window it heard is
   * decided by the companion's label groups over both models' scores (its patch's scores join
   * the context's as well). A window cut without a patch (a spectrogram stage older than the
   * companion, mid-upgrade) is decided by the tagger's own groups, not dropped.
   */
  async score(windows: readonly AudioInput[]): Promise<ClassScore[][]> {
    const longer = (w: AudioInput) => (w.context && w.context.frames > w.frames ? w.context : null);
    const contexts = windows.map(longer).filter((c) => c !== null);
    const { companion } = this.model;
    const heard = companion ? windows.filter((w) => w.yamnetPatch) : [];
    const [scores, second] = await Promise.all([
      this.model.tagger.classify([...windows, ...contexts]),
      heard.length > 0 ? companion!.runner.classify(heard.map((w) => w.yamnetPatch!)) : [],
    ]);
    let next = windows.length;
    let nextHeard = 0;
    return windows.map((w, i) => {
      const own = scores[i]!;
      const context = longer(w) ? scores[next++]! : own;
      if (!companion || !w.yamnetPatch) return this.model.mapper.score(own, context);
      const theirs = second[nextHeard++]!;
      const window = joined(own, theirs);
      return companion.mapper.score(window, context === own ? window : joined(context, theirs));
    });
  }

  decider(): ClassDecider {
    const { manifest, companion } = this.model;
    const groups = companion ? manifest.companion?.labelGroups : undefined;
    return new ClassDecider(decisionPolicyOf(manifest, groups));
  }

  context(): WindowContextBuilder | undefined {
    const features = this.model.manifest.features!;
    const groups = [
      ...Object.values(this.model.manifest.labelGroups),
      ...Object.values(this.model.manifest.companion?.labelGroups ?? {}),
    ];
    const used = groups.some((g) => g?.context);
    if (!features.contextSec || !used) return undefined;
    const frameSec = features.recipe.hopLength / features.recipe.sampleRate;
    return new WindowContextBuilder({
      melBins: features.recipe.melBins,
      frameSec,
      contextFrames: Math.round(features.contextSec / frameSec),
    });
  }
}

function joined(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
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
