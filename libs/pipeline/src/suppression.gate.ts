import type { DetectionSet } from '@app/contracts';

export interface ActiveSuppression {
  streamId: string;
  cls: string;
  /** Wall-clock ms from which it no longer holds. */
  until: number;
}

/**
 * Classes operators asked fusion to ignore on one stream for a while ("false alarm" feedback
 * from the console): their detections never reach the rules, so they open no incident there.
 * The list comes from the history (the desk replaces it on every change); expiry is checked
 * on each set, so a suppression ends on time without a reload.
 */
export class SuppressionGate {
  private byStream = new Map<string, ActiveSuppression[]>();

  constructor(private readonly now: () => number = Date.now) {}

  replace(list: readonly ActiveSuppression[]): void {
    const byStream = new Map<string, ActiveSuppression[]>();
    for (const item of list)
      byStream.set(item.streamId, [...(byStream.get(item.streamId) ?? []), item]);
    this.byStream = byStream;
  }

  /** The set without suppressed detections; the same object when nothing is suppressed. */
  filter(set: DetectionSet): DetectionSet {
    const held = this.byStream.get(set.streamId);
    if (!held || set.detections.length === 0) return set;
    const now = this.now();
    const classes = new Set(held.filter((s) => s.until > now).map((s) => s.cls));
    if (classes.size === 0) return set;
    const detections = set.detections.filter((d) => !classes.has(d.cls));
    return detections.length === set.detections.length ? set : { ...set, detections };
  }
}
