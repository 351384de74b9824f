/** How a decision does on the acceptance items: the events it finds and its false detections. */
export interface AcceptanceTally {
  hits: number;
  falseDetections: number;
}

export interface Guarded<T, A extends AcceptanceTally = AcceptanceTally> {
  /** The ranking, less the candidates refused from its front. */
  ranked: T[];
  /** Those refused, best first, with how they did. */
  refused: { candidate: T; acceptance: A }[];
}

/**
 * Walks a ranking from the best down and refuses every candidate that finds fewer acceptance
 * events than `bar` or adds false detections there, stopping at the first that does not. The
 * acceptance items are the ones every change must still get right (the dev clips), so a
 * decision that wins on the corpus but loses one of them never replaces the catalog's; the
 * catalog's own decision meets its bar, so the walk ends there at the latest.
 */
export function refuseWorseThan<T, A extends AcceptanceTally>(
  ranked: readonly T[],
  bar: AcceptanceTally,
  score: (candidate: T) => A,
): Guarded<T, A> {
  const refused: Guarded<T, A>['refused'] = [];
  for (const [i, candidate] of ranked.entries()) {
    const acceptance = score(candidate);
    if (acceptance.hits >= bar.hits && acceptance.falseDetections <= bar.falseDetections)
      return { ranked: ranked.slice(i), refused };
    refused.push({ candidate, acceptance });
  }
  return { ranked: [], refused };
}
