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
