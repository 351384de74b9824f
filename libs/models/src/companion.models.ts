import { YAMNET_RECIPE } from '@app/dsp';
import { CedRunner } from './ced.runner';
import type { ModelSession } from './model-session';
import { YamnetRunner } from './yamnet.runner';

/** What a window may carry for the companions (see `AudioFeatureWindow`). */
export interface CompanionInput {
  yamnetPatch?: Int8Array;
  pcm16k?: Int16Array;
}

/** One companion model, on the input of a window that it reads. */
export interface CompanionModel {
  name: string;
  /** Whether the window carries this model's input (one cut by an older spectrogram does not). */
  hears(window: CompanionInput): boolean;
  /** One probability vector per window, in the order given; every window must be heard. */
  classify(windows: readonly CompanionInput[]): Promise<Float32Array[]>;
}

type CompanionFactory = (
  session: ModelSession,
  io: { input: string; output: string },
) => CompanionModel;

/** The companions Vigil can run, each with the input the spectrogram stage cuts for it. */
export const COMPANION_MODELS: Readonly<Record<string, CompanionFactory>> = Object.freeze({
  yamnet: (session, io) => {
    const runner = new YamnetRunner(session, YAMNET_RECIPE, io);
    return {
      name: 'yamnet',
      hears: (w) => w.yamnetPatch !== undefined,
      classify: (windows) => runner.classify(windows.map((w) => w.yamnetPatch!)),
    };
  },
  'ced-tiny': (session, io) => {
    const runner = new CedRunner(session, io);
    return {
      name: 'ced-tiny',
      hears: (w) => w.pcm16k !== undefined,
      classify: (windows) => runner.classify(windows.map((w) => w.pcm16k!)),
    };
  },
});
