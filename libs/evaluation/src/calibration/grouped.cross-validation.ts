import type { Tally } from './threshold.sweep';

export interface CalibrationRow {
  source: string;
  /** Whether the item is labelled with the class (its audio is not "negative" for it). */
  labelled: boolean;
  audioSec: number;
  /** One tally per candidate threshold. */
  tallies: Tally[];
}

export interface Totals {
  events: number;
  hits: number;
  falseDetections: number;
  /** False detections on items not labelled with the class, and their hours of audio. */
  falseOnNegatives: number;
  negativeHours: number;
}

export interface CrossValidation {
  /** Held-out results: every item scored at the threshold chosen without its source. */
  heldOut: Totals;
  /** Threshold index chosen per held-out source. */
  folds: { source: string; index: number }[];
}

/**
 * The operating point on some items: the threshold with the most hits less `falseCost` per
 * false detection. Among equally good thresholds the middle one is taken, so the choice sits
 * inside the plateau rather than on the edge of what these items happened to show.
 */
export function chooseIndex(rows: readonly CalibrationRow[], falseCost: number): number {
  const n = rows[0]?.tallies.length ?? 0;
  const utility = Array.from({ length: n }, (_, t) =>
    rows.reduce((u, r) => u + r.tallies[t].hits - falseCost * r.tallies[t].falseDetections, 0),
  );
  const best = Math.max(...utility);
  const ties = utility.flatMap((u, t) => (u >= best - 1e-9 ? [t] : []));
  return ties[Math.floor((ties.length - 1) / 2)];
}

export function totalsAt(
  rows: readonly CalibrationRow[],
  index: (row: CalibrationRow) => number,
): Totals {
  const totals: Totals = {
    events: 0,
    hits: 0,
    falseDetections: 0,
    falseOnNegatives: 0,
    negativeHours: 0,
  };
  for (const row of rows) {
    const tally = row.tallies[index(row)];
    totals.events += tally.events;
    totals.hits += tally.hits;
    totals.falseDetections += tally.falseDetections;
    if (!row.labelled) {
      totals.falseOnNegatives += tally.falseDetections;
      totals.negativeHours += row.audioSec / 3600;
    }
  }
  return totals;
}

/**
 * Leave-one-source-out: every source in turn is held out, the threshold is chosen on the
 * others, and the held-out items are scored with it. A recording never tunes its own
 * threshold, and recordings from one source never tune each other's.
 */
export function crossValidate(rows: readonly CalibrationRow[], falseCost: number): CrossValidation {
  const sources = [...new Set(rows.map((r) => r.source))].sort();
  const chosen = new Map<string, number>();
  for (const source of sources) {
    chosen.set(
      source,
      chooseIndex(
        rows.filter((r) => r.source !== source),
        falseCost,
      ),
    );
  }
  return {
    heldOut: totalsAt(rows, (row) => chosen.get(row.source)!),
    folds: sources.map((source) => ({ source, index: chosen.get(source)! })),
  };
}

/**
 * The same protocol for a decision that is itself fitted (a learned head): `rowsWithout(s)`
 * scores every item with a head fitted without source `s`; the threshold is chosen on the
 * other sources' rows and the held-out source is scored with both.
 */
export function crossValidateFitted(
  sources: readonly string[],
  rowsWithout: (source: string) => CalibrationRow[],
  falseCost: number,
): CrossValidation {
  const heldOut: CalibrationRow[] = [];
  const folds: { source: string; index: number }[] = [];
  for (const source of [...sources].sort()) {
    const rows = rowsWithout(source);
    const index = chooseIndex(
      rows.filter((r) => r.source !== source),
      falseCost,
    );
    folds.push({ source, index });
    heldOut.push(
      ...rows
        .filter((r) => r.source === source)
        .map((r) => ({ ...r, tallies: [r.tallies[index]] })),
    );
  }
  return { heldOut: totalsAt(heldOut, () => 0), folds };
}
