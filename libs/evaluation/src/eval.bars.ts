import { type CanonicalClass, AUDIO_CLASSES, VIDEO_CLASSES } from '@app/contracts';
import { EvalLabelsError } from './eval-labels';
import type { EvalReport } from './eval.scorer';

/** What a run must reach: CI holds the corpus to bars just under what was measured. */
export interface EvalBars {
  /** Every class with labelled events must reach this recall… */
  minRecall?: number;
  /** …or its own bar where one is given. */
  minClassRecall: Partial<Record<CanonicalClass, number>>;
  maxFalseAlerts?: number;
}

const KNOWN: readonly string[] = [...AUDIO_CLASSES, ...VIDEO_CLASSES];

export class EvalBarsError extends EvalLabelsError {
  constructor(message: string) {
    super(message);
    this.name = 'EvalBarsError';
  }
}

/** `--min-recall 0.9 --min-recall car_horn=0.75 --max-false-alerts 0`. */
export function parseBars(minRecall: readonly string[], maxFalseAlerts?: string): EvalBars {
  const bars: EvalBars = { minClassRecall: {} };
  for (const value of minRecall) {
    const [cls, level] = value.includes('=') ? value.split('=', 2) : [undefined, value];
    const recall = Number(level);
    if (level.trim() === '' || !Number.isFinite(recall) || recall < 0 || recall > 1) {
      throw new EvalBarsError(`--min-recall: expected a number from 0 to 1, got "${value}"`);
    }
    if (cls === undefined) {
      bars.minRecall = recall;
      continue;
    }
    if (!KNOWN.includes(cls)) {
      throw new EvalBarsError(`--min-recall: unknown class "${cls}" (known: ${KNOWN.join(', ')})`);
    }
    bars.minClassRecall[cls as CanonicalClass] = recall;
  }
  if (maxFalseAlerts !== undefined) {
    const n = Number(maxFalseAlerts);
    if (maxFalseAlerts.trim() === '' || !Number.isInteger(n) || n < 0) {
      throw new EvalBarsError(
        `--max-false-alerts: expected a whole number >= 0, got "${maxFalseAlerts}"`,
      );
    }
    bars.maxFalseAlerts = n;
  }
  return bars;
}

/** One line per bar the report falls below; empty when it passes. */
export function checkBars(report: EvalReport, bars: EvalBars): string[] {
  const failures: string[] = [];
  for (const figures of report.classes) {
    const bar = bars.minClassRecall[figures.cls] ?? bars.minRecall;
    if (bar === undefined || figures.recall === null) continue;
    if (figures.recall < bar) {
      failures.push(
        `${figures.cls}: recall ${figures.recall.toFixed(3)} (${figures.hits}/${figures.events}) is below ${bar}`,
      );
    }
  }
  for (const cls of Object.keys(bars.minClassRecall)) {
    if (!report.classes.some((f) => f.cls === cls && f.recall !== null)) {
      failures.push(`${cls}: a recall bar is set but the labels have no ${cls} event`);
    }
  }
  if (bars.maxFalseAlerts !== undefined && report.totals.falseAlerts > bars.maxFalseAlerts) {
    failures.push(`false alerts: ${report.totals.falseAlerts} is above ${bars.maxFalseAlerts}`);
  }
  if (report.totals.failedItems > 0) {
    failures.push(`${report.totals.failedItems} item(s) could not be analysed`);
  }
  return failures;
}
