import type { CanonicalClass, Detection, Modality } from '@app/contracts';
import type { CombineRule, LabelDecision, LabelGroups } from './model.manifest';
import { logit, sigmoid } from './sigmoid';

export interface ClassScore {
  cls: CanonicalClass;
  score: number;
  threshold: number;
  /** Group labels that carried weight (see {@link LabelGroupMapper}), best first. */
  labels: string[];
}

interface ResolvedDecision {
  threshold: number;
  combine: CombineRule;
  head?: { weights: number[]; bias: number };
  context: boolean;
  indices: number[];
}

interface ResolvedGroup extends ResolvedDecision {
  cls: CanonicalClass;
  /** Any or all of these decide (LabelGroup.anyOf, allOf); the group's own is then unused. */
  members?: { rule: 'any' | 'all'; decisions: ResolvedDecision[] };
}

/**
 * Folds a multi-label model's per-label scores into Vigil's canonical classes through the
 * manifest's label groups (a combine rule, or a learned head). A label "contributed" when it
 * scores at least half the class threshold (the best label always counts): enough to show an
 * operator why a class fired without listing every near-zero member of the group.
 */
export class LabelGroupMapper {
  private readonly groups: ResolvedGroup[];

  constructor(
    private readonly labels: readonly string[],
    groups: LabelGroups,
    private readonly modality: Modality = 'audio',
  ) {
    const index = new Map(labels.map((label, i) => [label, i]));
    const resolve = (cls: string, decision: LabelDecision): ResolvedDecision => ({
      threshold: decision.threshold,
      combine: decision.combine ?? 'max',
      head: decision.head,
      context: decision.context ?? false,
      indices: decision.labels.map((label) => {
        const i = index.get(label);
        if (i === undefined) {
          throw new Error(
            `labelGroups.${cls}: label ${JSON.stringify(label)} is not in the model's labels`,
          );
        }
        return i;
      }),
    });
    this.groups = Object.entries(groups).map(([cls, group]) => ({
      ...resolve(cls, group!),
      cls: cls as CanonicalClass,
      members: group!.anyOf
        ? { rule: 'any', decisions: group!.anyOf.map((m) => resolve(cls, m)) }
        : group!.allOf
          ? { rule: 'all', decisions: group!.allOf.map((m) => resolve(cls, m)) }
          : undefined,
    }));
  }

  classes(): CanonicalClass[] {
    return this.groups.map((g) => g.cls);
  }

  /**
   * Every class's score, whether or not it clears its threshold. `context` holds the label
   * scores of the longer stretch of audio ending with the window, read by the classes marked
   * `context`; where there is none (a clip classified whole) they read the window's.
   */
  score(scores: ArrayLike<number>, context: ArrayLike<number> = scores): ClassScore[] {
    for (const s of [scores, context]) {
      if (s.length !== this.labels.length) {
        throw new Error(`expected ${this.labels.length} scores, got ${s.length}`);
      }
    }
    return this.groups.map((g) => {
      if (!g.members) return { cls: g.cls, ...this.decide(g, scores, context) };
      // Each member's margin over its own threshold, in logits: for "any" the best one decides
      // and names its labels, for "all" the weakest decides and every member names its own.
      const decided = g.members.decisions
        .map((member) => {
          const d = this.decide(member, scores, context);
          return { ...d, margin: logit(d.score) - logit(member.threshold) };
        })
        .sort((a, b) => b.margin - a.margin);
      const any = g.members.rule === 'any';
      return {
        cls: g.cls,
        score: sigmoid(decided[any ? 0 : decided.length - 1]!.margin),
        threshold: g.threshold,
        labels: any ? decided[0]!.labels : [...new Set(decided.flatMap((d) => d.labels))],
      };
    });
  }

  /** Classes at or above their threshold, best first. */
  detect(scores: ArrayLike<number>, context?: ArrayLike<number>): Detection[] {
    return this.score(scores, context)
      .filter((s) => s.score >= s.threshold)
      .sort((a, b) => b.score - a.score)
      .map((s) => ({ modality: this.modality, cls: s.cls, score: s.score, labels: s.labels }));
  }

  private decide(
    d: ResolvedDecision,
    scores: ArrayLike<number>,
    context: ArrayLike<number>,
  ): Omit<ClassScore, 'cls'> {
    const source = d.context ? context : scores;
    const members = d.indices
      .map((i) => ({ label: this.labels[i]!, score: source[i]! }))
      .sort((a, b) => b.score - a.score);
    return {
      score: d.head
        ? logisticHead(
            d.head,
            d.indices.map((i) => source[i]!),
          )
        : combine(
            d.combine,
            members.map((m) => m.score),
          ),
      threshold: d.threshold,
      // A head's threshold is on its own scale, not the labels': there, a label counts when it
      // scores at least half the best one.
      labels: members
        .filter((m, k) => k === 0 || m.score >= (d.head ? members[0]!.score : d.threshold) / 2)
        .map((m) => m.label),
    };
  }
}

/** The learned head: a logistic regression on the group's label logits, in label order. */
export function logisticHead(
  head: { weights: number[]; bias: number },
  scores: readonly number[],
): number {
  let z = head.bias;
  scores.forEach((p, i) => (z += head.weights[i]! * logit(p)));
  return sigmoid(z);
}

export function combine(rule: CombineRule, scores: readonly number[]): number {
  switch (rule) {
    case 'max':
      return scores.reduce((m, s) => Math.max(m, s), 0);
    case 'noisy-or':
      return 1 - scores.reduce((p, s) => p * (1 - s), 1);
    case 'sum':
      return Math.min(
        1,
        scores.reduce((sum, s) => sum + s, 0),
      );
  }
}
