import type { Detection, VideoFrame } from '@app/contracts';
import { WindowContextBuilder } from '@app/dsp';
import {
  type ClassScore,
  type LoadedAudioModel,
  type LoadedVideoModel,
  type Precision,
  ClassDecider,
  decisionPolicyOf,
  readsContext,
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
   * With companions, the windows they all heard go through each of them in one call too, and
   * such a window is decided by the companion label groups over every model's scores (which
   * join the context's as well). A window cut without their inputs (a spectrogram stage older
   * than a companion, mid-upgrade) is decided by the tagger's own groups, not dropped.
   */
  async score(windows: readonly AudioInput[]): Promise<ClassScore[][]> {
    const longer = (w: AudioInput) => (w.context && w.context.frames > w.frames ? w.context : null);
    const contexts = windows.map(longer).filter((c) => c !== null);
    const { companion } = this.model;
    const heardByAll = (w: AudioInput) => companion!.models.every((m) => m.hears(w));
    const heard = companion ? windows.filter(heardByAll) : [];
    const [scores, ...theirs] = await Promise.all([
      this.model.tagger.classify([...windows, ...contexts]),
      ...(heard.length > 0 ? companion!.models.map((m) => m.classify(heard)) : []),
    ]);
    let next = windows.length;
    let nextHeard = 0;
    return windows.map((w, i) => {
      const own = scores[i]!;
      const context = longer(w) ? scores[next++]! : own;
      if (!companion || !heardByAll(w)) return this.model.mapper.score(own, context);
      const second = theirs.map((rows) => rows[nextHeard]!);
      nextHeard++;
      const window = joined(own, second);
      return companion.mapper.score(window, context === own ? window : joined(context, second));
    });
  }

  decider(): ClassDecider {
    const { manifest, companion } = this.model;
    const groups = companion ? manifest.companion?.labelGroups : undefined;
    return new ClassDecider(decisionPolicyOf(manifest, groups));
  }

  /**
   * A context is built only when the groups in effect read one: with the companions loaded,
   * theirs (a window cut without their inputs, mid-upgrade, then reads its own window instead).
   */
  context(): WindowContextBuilder | undefined {
    const { manifest, companion } = this.model;
    const features = manifest.features!;
    const groups = Object.values(
      (companion && manifest.companion?.labelGroups) || manifest.labelGroups,
    );
    const used = groups.some(readsContext);
    if (!features.contextSec || !used) return undefined;
    const frameSec = features.recipe.hopLength / features.recipe.sampleRate;
    return new WindowContextBuilder({
      melBins: features.recipe.melBins,
      frameSec,
      contextFrames: Math.round(features.contextSec / frameSec),
    });
  }
}

function joined(own: Float32Array, theirs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(theirs.reduce((n, s) => n + s.length, own.length));
  out.set(own);
  let at = own.length;
  for (const s of theirs) {
    out.set(s, at);
    at += s.length;
  }
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
