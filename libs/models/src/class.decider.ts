import type { CanonicalClass, Detection, Modality } from '@app/contracts';
import type { ClassScore } from './label-group.mapper';
import type { LabelGroups, ModelManifest } from './model.manifest';
import { logit, sigmoid } from './sigmoid';

/** How a stream's windows become detections over time; model data, from the manifest. */
export interface DecisionPolicy {
  /** Per class: once on, a class stays on while its score holds at or above `release`. */
  release?: Partial<Record<CanonicalClass, number>>;
  /**
   * Impulsive classes one sound cannot be at once (a glass break is not also a gunshot): when
   * several fire within `exclusiveSec`, only the best supported (score over threshold, in
   * logits) is reported.
   */
  exclusive?: CanonicalClass[][];
  exclusiveSec?: number;
  /**
   * Per-stream ambient baseline: a class whose score is elevated most of the time on a stream
   * (a café's clinking for glass, a kennel's barking) needs `marginLogit` above that stream's
   * median logit over the last `windows` windows, once `minWindows` have been seen. A median,
   * not a mean: sparse real events (a dog barking four times) do not raise their own bar. The
   * bar never rises above `ceiling`: a loud, clear event is never deafened.
   */
  baseline?: { windows: number; minWindows: number; marginLogit: number; ceiling: number };
}

interface Recent {
  cls: CanonicalClass;
  atSec: number;
  margin: number;
}

/**
 * One stream's decisions: window class scores in stream order → detections. Holds only what
 * time needs (which classes are on, the last impulsive call, a bounded ring of logits per
 * class), so its latest `memoryWindows` windows, decided again in order, rebuild it.
 */
export class ClassDecider {
  private readonly active = new Set<CanonicalClass>();
  private readonly exclusiveOf = new Map<CanonicalClass, number>();
  private readonly recent: (Recent | undefined)[];
  private readonly history = new Map<
    CanonicalClass,
    { ring: Float64Array; next: number; count: number }
  >();

  constructor(
    private readonly policy: DecisionPolicy = {},
    private readonly modality: Modality = 'audio',
  ) {
    (policy.exclusive ?? []).forEach((group, i) =>
      group.forEach((cls) => this.exclusiveOf.set(cls, i)),
    );
    this.recent = (policy.exclusive ?? []).map(() => undefined);
  }

  /**
   * How many of the latest windows this decider's state depends on: the baseline's ring. A stage
   * that must survive a restart keeps that many uncommitted; their replay also settles which
   * classes are on and the last impulsive call, which look back less far.
   */
  get memoryWindows(): number {
    return this.policy.baseline?.windows ?? 0;
  }

  decide(atSec: number, scores: readonly ClassScore[]): Detection[] {
    const passing: (ClassScore & { margin: number })[] = [];
    for (const s of scores) {
      const bar = Math.max(
        this.active.has(s.cls) ? (this.policy.release?.[s.cls] ?? s.threshold) : s.threshold,
        this.baselineBar(s.cls),
      );
      this.remember(s.cls, s.score);
      if (s.score >= bar) passing.push({ ...s, margin: logit(s.score) - logit(s.threshold) });
      else this.active.delete(s.cls);
    }
    const kept = passing.filter((s) => this.wins(s, atSec, passing));
    for (const s of passing) if (!kept.includes(s)) this.active.delete(s.cls);
    for (const s of kept) this.active.add(s.cls);
    return kept
      .sort((a, b) => b.score - a.score)
      .map((s) => ({ modality: this.modality, cls: s.cls, score: s.score, labels: s.labels }));
  }

  /** Whether an impulsive class beats its rivals in this window and the last call within exclusiveSec. */
  private wins(
    s: ClassScore & { margin: number },
    atSec: number,
    passing: readonly (ClassScore & { margin: number })[],
  ): boolean {
    const group = this.exclusiveOf.get(s.cls);
    if (group === undefined) return true;
    const rivals = passing.filter((o) => o !== s && this.exclusiveOf.get(o.cls) === group);
    if (rivals.some((o) => o.margin > s.margin)) return false;
    const last = this.recent[group];
    const within = this.policy.exclusiveSec ?? 0.5;
    if (
      last &&
      last.cls !== s.cls &&
      Math.abs(atSec - last.atSec) <= within &&
      last.margin >= s.margin
    )
      return false;
    this.recent[group] = { cls: s.cls, atSec, margin: s.margin };
    return true;
  }

  private baselineBar(cls: CanonicalClass): number {
    const baseline = this.policy.baseline;
    const h = this.history.get(cls);
    if (!baseline || !h || h.count < baseline.minWindows) return 0;
    const sorted = h.ring.slice(0, h.count).sort();
    const mid = h.count >> 1;
    const median = h.count % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    return Math.min(baseline.ceiling, sigmoid(median + baseline.marginLogit));
  }

  private remember(cls: CanonicalClass, score: number): void {
    const baseline = this.policy.baseline;
    if (!baseline) return;
    let h = this.history.get(cls);
    if (!h) {
      h = { ring: new Float64Array(baseline.windows), next: 0, count: 0 };
      this.history.set(cls, h);
    }
    h.ring[h.next] = logit(score);
    h.next = (h.next + 1) % h.ring.length;
    h.count = Math.min(h.count + 1, h.ring.length);
  }
}

/**
 * The manifest's decisions and per-class release levels, as a policy. `groups` are the label
 * groups in use: the companion's where it runs.
 */
export function decisionPolicyOf(
  manifest: ModelManifest,
  groups: LabelGroups = manifest.labelGroups,
): DecisionPolicy {
  const release: Partial<Record<CanonicalClass, number>> = {};
  for (const [cls, group] of Object.entries(groups)) {
    if (group?.release !== undefined) release[cls as CanonicalClass] = group.release;
  }
  return { ...manifest.decisions, release };
}
