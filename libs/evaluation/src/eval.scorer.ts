import {
  type CanonicalClass,
  type IncidentState,
  type Severity,
  AUDIO_CLASSES,
  VIDEO_CLASSES,
  isAudioClass,
  isNotification,
  severityRank,
} from '@app/contracts';
import type { EvalItem, LabelledEvent } from './eval-labels';

/** A run of detections of one class, as the pipeline reports it. */
export interface ObservedSegment {
  cls: CanonicalClass;
  startSec: number;
  endSec: number;
  maxScore: number;
}

/** A version of an incident the pipeline decided on the item. */
export interface ObservedIncident {
  id: string;
  incidentId: string;
  state: IncidentState;
  rule: string;
  /** The class whose firing made this version. */
  trigger: CanonicalClass;
  /** Every class that triggered the incident so far. */
  triggers: CanonicalClass[];
  severity: Severity;
  startSec: number;
}

/** What the pipeline made of one item. */
export interface ItemOutcome {
  item: EvalItem;
  /** Seconds of audio analysed (0 for a picture or a silent video). */
  audioSec: number;
  segments: ObservedSegment[];
  incidents: ObservedIncident[];
  /** Set when the item could not be analysed; it then counts as missing everything. */
  error?: string;
}

export interface ScoringRules {
  /** Classes that can raise an incident of medium or higher severity on their own. */
  alertClasses: ReadonlySet<CanonicalClass>;
  /** A detection hits an event when it starts within this many seconds of the span. */
  toleranceSec?: number;
}

export interface ItemScore {
  file: string;
  source: string;
  events: number;
  hits: number;
  missed: LabelledEvent[];
  falseDetections: ObservedSegment[];
  expectedAlert: boolean;
  raisedAlert: boolean;
  falseAlerts: ObservedIncident[];
  error?: string;
}

export interface ClassFigures {
  cls: CanonicalClass;
  events: number;
  hits: number;
  recall: number | null;
  detections: number;
  falseDetections: number;
  /** False detections on items not labelled with the class, per hour of their audio (audio classes). */
  falsePerHour: number | null;
  precision: number | null;
  f1: number | null;
  /** |detection start − event start| over hit spans, in seconds. */
  onsetMedianSec: number | null;
  onsetMaxSec: number | null;
}

export interface EvalTotals {
  items: number;
  failedItems: number;
  events: number;
  hits: number;
  recall: number | null;
  falseDetections: number;
  expectedAlerts: number;
  raisedAlerts: number;
  falseAlerts: number;
  audioHours: number;
}

export interface EvalReport {
  classes: ClassFigures[];
  items: ItemScore[];
  totals: EvalTotals;
}

const ALERT_SEVERITY = severityRank('medium');

interface ItemDetail {
  score: ItemScore;
  outcome: ItemOutcome;
  /** Per class: [events, hits, onset errors]. */
  perClass: Map<CanonicalClass, { events: number; hits: number; onsets: number[] }>;
  detections: Map<CanonicalClass, { total: number; false: number }>;
}

/**
 * Strict scoring, as DESIGN.md states it: a detection hits an event when its class matches and
 * it starts no earlier than `start − tolerance` and no later than `end + tolerance`. A class
 * listed without spans (a picture, a presence-labelled file) is hit by any detection of it. A
 * detection that hits nothing is false. An incident of medium or higher severity whose trigger
 * is not a class of the item is a false alert; an item expects an alert when one of its classes
 * can raise one (or when its labels say so).
 */
export function scoreItems(outcomes: readonly ItemOutcome[], rules: ScoringRules): EvalReport {
  const tolerance = rules.toleranceSec ?? 1;
  const details = outcomes.map((o) => scoreOne(o, rules, tolerance));
  return {
    classes: classFigures(details),
    items: details.map((d) => d.score),
    totals: totals(details),
  };
}

function scoreOne(outcome: ItemOutcome, rules: ScoringRules, tolerance: number): ItemDetail {
  const { item } = outcome;
  const segments = outcome.error ? [] : outcome.segments;
  const incidents = outcome.error ? [] : outcome.incidents;
  const perClass = new Map<CanonicalClass, { events: number; hits: number; onsets: number[] }>();
  const matched = new Set<ObservedSegment>();
  const missed: LabelledEvent[] = [];
  const tally = (cls: CanonicalClass) => {
    const entry = perClass.get(cls) ?? { events: 0, hits: 0, onsets: [] };
    perClass.set(cls, entry);
    return entry;
  };

  for (const event of item.events) {
    const entry = tally(event.cls);
    entry.events += 1;
    const hitting = segments.filter(
      (s) =>
        s.cls === event.cls &&
        s.startSec >= event.start - tolerance &&
        s.startSec <= event.end + tolerance,
    );
    hitting.forEach((s) => matched.add(s));
    if (hitting.length === 0) {
      missed.push(event);
      continue;
    }
    entry.hits += 1;
    entry.onsets.push(Math.min(...hitting.map((s) => Math.abs(s.startSec - event.start))));
  }
  const spanned = new Set(item.events.map((e) => e.cls));
  for (const cls of item.classes.filter((c) => !spanned.has(c))) {
    const entry = tally(cls);
    entry.events += 1;
    const present = segments.filter((s) => s.cls === cls);
    present.forEach((s) => matched.add(s));
    if (present.length > 0) entry.hits += 1;
    else missed.push({ cls, start: 0, end: outcome.audioSec });
  }

  const detections = new Map<CanonicalClass, { total: number; false: number }>();
  for (const segment of segments) {
    const entry = detections.get(segment.cls) ?? { total: 0, false: 0 };
    entry.total += 1;
    if (!matched.has(segment)) entry.false += 1;
    detections.set(segment.cls, entry);
  }

  // An alert is what reaches an operator: an incident opening or escalating at medium or above.
  const alerts = incidents.filter(
    (i) => isNotification(i) && severityRank(i.severity) >= ALERT_SEVERITY,
  );
  const alerted = new Set(alerts.map((i) => i.incidentId));
  const labelled = new Set(item.classes);
  const events = [...perClass.values()].reduce((n, c) => n + c.events, 0);
  return {
    outcome,
    perClass,
    detections,
    score: {
      file: item.file,
      source: item.source,
      events,
      hits: events - missed.length,
      missed,
      falseDetections: segments.filter((s) => !matched.has(s)),
      expectedAlert: item.expectAlert ?? item.classes.some((c) => rules.alertClasses.has(c)),
      // A labelled class that joined an incident already alerted on was reported with it.
      raisedAlert: incidents.some(
        (i) => alerted.has(i.incidentId) && i.triggers.some((cls) => labelled.has(cls)),
      ),
      falseAlerts: alerts.filter((i) => !labelled.has(i.trigger)),
      ...(outcome.error ? { error: outcome.error } : {}),
    },
  };
}

function classFigures(details: readonly ItemDetail[]): ClassFigures[] {
  const figures: ClassFigures[] = [];
  for (const cls of [...AUDIO_CLASSES, ...VIDEO_CLASSES]) {
    let events = 0;
    let hits = 0;
    let detections = 0;
    let falseDetections = 0;
    let falseOnNegatives = 0;
    let negativeSec = 0;
    const onsets: number[] = [];
    for (const { perClass, detections: found, outcome } of details) {
      const labelled = outcome.item.classes.includes(cls);
      const mine = perClass.get(cls);
      events += mine?.events ?? 0;
      hits += mine?.hits ?? 0;
      onsets.push(...(mine?.onsets ?? []));
      detections += found.get(cls)?.total ?? 0;
      falseDetections += found.get(cls)?.false ?? 0;
      if (!labelled && !outcome.error) {
        negativeSec += outcome.audioSec;
        falseOnNegatives += found.get(cls)?.false ?? 0;
      }
    }
    if (events === 0 && detections === 0) continue;
    const recall = events > 0 ? hits / events : null;
    const precision = detections > 0 ? (detections - falseDetections) / detections : null;
    const f1 =
      recall === null
        ? null
        : recall + (precision ?? 0) > 0
          ? (2 * recall * (precision ?? 0)) / (recall + (precision ?? 0))
          : 0;
    onsets.sort((a, b) => a - b);
    figures.push({
      cls,
      events,
      hits,
      recall,
      detections,
      falseDetections,
      falsePerHour:
        isAudioClass(cls) && negativeSec > 0 ? falseOnNegatives / (negativeSec / 3600) : null,
      precision,
      f1,
      onsetMedianSec: onsets.length > 0 ? median(onsets) : null,
      onsetMaxSec: onsets.length > 0 ? onsets[onsets.length - 1] : null,
    });
  }
  return figures;
}

function totals(details: readonly ItemDetail[]): EvalTotals {
  const scores = details.map((d) => d.score);
  const events = sum(scores.map((s) => s.events));
  const hits = sum(scores.map((s) => s.hits));
  return {
    items: scores.length,
    failedItems: scores.filter((s) => s.error).length,
    events,
    hits,
    recall: events > 0 ? hits / events : null,
    falseDetections: sum(scores.map((s) => s.falseDetections.length)),
    expectedAlerts: scores.filter((s) => s.expectedAlert).length,
    raisedAlerts: scores.filter((s) => s.expectedAlert && s.raisedAlert).length,
    falseAlerts: sum(scores.map((s) => s.falseAlerts.length)),
    audioHours: sum(details.map((d) => d.outcome.audioSec)) / 3600,
  };
}

function median(sorted: readonly number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
