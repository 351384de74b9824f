import type { CanonicalClass } from '@app/contracts';

/** A labelled span: the class is heard or seen from `start` to `end` seconds. */
export interface LabelledEvent {
  cls: CanonicalClass;
  start: number;
  end: number;
}

/** One recording, picture or clip of a labelled set, ready to score. */
export interface EvalItem {
  /** As written in the labels file (the name reports use). */
  file: string;
  /** Resolved path ffmpeg opens. */
  path: string;
  /** Where the item came from: one source stays in one cross-validation fold. */
  source: string;
  /** Every class present; empty for a negative. */
  classes: CanonicalClass[];
  /** Measured spans. A class in `classes` without a span is scored on presence alone. */
  events: LabelledEvent[];
  /** Stated by the labels (clips format); otherwise derived from the rules' alerting classes. */
  expectAlert?: boolean;
}

export interface EvalSet {
  labelsPath: string;
  items: EvalItem[];
}

/** The labels are unusable: the message names the item and the field. */
export class EvalLabelsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalLabelsError';
  }
}

/**
 * The item with a span over the whole recording for each class it lists without spans: the
 * "present somewhere" of a presence label, for code that needs spans (calibration). A
 * detection anywhere hits such a span, as `scoreItems` scores presence.
 */
export function withPresenceSpans(item: EvalItem, audioSec: number): EvalItem {
  const spanned = new Set(item.events.map((e) => e.cls));
  const present = item.classes.filter((cls) => !spanned.has(cls));
  if (present.length === 0) return item;
  return {
    ...item,
    events: [...item.events, ...present.map((cls) => ({ cls, start: 0, end: audioSec }))],
  };
}
