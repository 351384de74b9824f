import type { ClassFigures, EvalReport, ItemScore } from '@app/evaluation';
import type { EvalRun } from '../eval/eval.service';
import { table } from './table.formatter';

/** The human eval report: per class, per item, totals, then any bar that was not reached. */
export function formatEval(labelsFile: string, run: EvalRun, failures: readonly string[]): string {
  const { report } = run;
  const { totals } = report;
  const lines: string[] = [
    `${labelsFile}: ${totals.items} items, ${(totals.audioHours * 60).toFixed(1)} min of audio; ` +
      `models ${run.models.audio} + ${run.models.video}; ${run.wallSec.toFixed(1)} s`,
    '',
    'Per class (a hit starts within 1 s of a labelled span; FALSE/H: per hour of audio without the class)',
    ...table(
      [
        'CLASS',
        'EVENTS',
        'HITS',
        'RECALL',
        'DETECTED',
        'FALSE',
        'FALSE/H',
        'PRECISION',
        'F1',
        'ONSET MED',
        'ONSET MAX',
      ],
      report.classes.map(classRow),
    ),
    '',
    'Per item (ALERT: expected/raised; FALSE ALERTS: medium+ incidents whose trigger is not labelled)',
    ...table(
      ['FILE', 'EVENTS', 'HITS', 'ALERT', 'FALSE ALERTS', 'NOTES'],
      report.items.map(itemRow),
    ),
    '',
    `Totals: ${totals.hits}/${totals.events} events found (${pct(totals.recall)}), ` +
      `${totals.raisedAlerts}/${totals.expectedAlerts} expected alerts raised, ` +
      `${totals.falseAlerts} false alert(s), ${totals.falseDetections} false detection(s)` +
      (totals.failedItems > 0 ? `, ${totals.failedItems} item(s) failed` : ''),
  ];
  if (failures.length > 0) {
    lines.push('', 'Below the bars:', ...failures.map((f) => `  ${f}`));
  }
  return lines.join('\n') + '\n';
}

/** `--json`: the whole report as one object, with the bars it missed. */
export function evalJson(labelsFile: string, run: EvalRun, failures: readonly string[]): string {
  return (
    JSON.stringify({
      type: 'eval',
      labels: labelsFile,
      models: run.models,
      wallSec: round(run.wallSec),
      ...roundReport(run.report),
      belowBars: failures,
    }) + '\n'
  );
}

function classRow(f: ClassFigures): string[] {
  return [
    f.cls,
    String(f.events),
    String(f.hits),
    num(f.recall),
    String(f.detections),
    String(f.falseDetections),
    f.falsePerHour === null ? '-' : f.falsePerHour.toFixed(1),
    num(f.precision),
    num(f.f1),
    f.onsetMedianSec === null ? '-' : `${f.onsetMedianSec.toFixed(2)} s`,
    f.onsetMaxSec === null ? '-' : `${f.onsetMaxSec.toFixed(2)} s`,
  ];
}

function itemRow(item: ItemScore): string[] {
  const notes: string[] = [];
  if (item.error) notes.push(`failed: ${item.error}`);
  for (const m of item.missed) notes.push(`missed ${m.cls} @${m.start.toFixed(2)}s`);
  for (const d of item.falseDetections) {
    notes.push(`false ${d.cls} @${d.startSec.toFixed(2)}s (${d.maxScore.toFixed(2)})`);
  }
  for (const a of item.falseAlerts)
    notes.push(`false alert ${a.rule} (${a.severity}) @${a.startSec.toFixed(2)}s`);
  return [
    item.file,
    String(item.events),
    String(item.hits),
    `${item.expectedAlert ? 'yes' : 'no'}/${item.raisedAlert ? 'yes' : 'no'}`,
    String(item.falseAlerts.length),
    notes.join('; '),
  ];
}

function roundReport(report: EvalReport): EvalReport {
  return {
    ...report,
    classes: report.classes.map((c) => ({
      ...c,
      recall: maybe(c.recall, 4),
      precision: maybe(c.precision, 4),
      f1: maybe(c.f1, 4),
      falsePerHour: maybe(c.falsePerHour, 2),
      onsetMedianSec: maybe(c.onsetMedianSec, 3),
      onsetMaxSec: maybe(c.onsetMaxSec, 3),
    })),
    totals: {
      ...report.totals,
      recall: maybe(report.totals.recall, 4),
      audioHours: round(report.totals.audioHours, 4),
    },
  };
}

function num(value: number | null): string {
  return value === null ? '-' : value.toFixed(3);
}

function pct(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(1)}%`;
}

function maybe(value: number | null, digits: number): number | null {
  return value === null ? null : round(value, digits);
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
