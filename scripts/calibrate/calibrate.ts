/**
 * Chooses each audio class's label group and threshold on the eval corpus with
 * leave-one-source-out cross-validation, and (with --write) stores them in the model catalog
 * and the figures in libs/models/MEASUREMENTS.md. One command regenerates both:
 *
 *   npm run calibrate -- [--write] [--labels FILE]... [--false-cost N] [--dump DIR]
 *
 * Default labels: ../shared/fixtures/eval/labels.json and eval/corpus/labels.json. Window
 * scores come from the deployed front end and tagger (cached in .cache/calibration).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { AUDIO_CLASSES, type AudioClass } from '@app/contracts';
import {
  type CalibrationRow,
  type EvalItem,
  type Totals,
  type WindowScores,
  chooseIndex,
  crossValidate,
  groupScores,
  logitGrid,
  parseEvalLabels,
  sweepItem,
  totalsAt,
} from '@app/evaluation';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import { ModelLoader, ModelRepository, OnnxSessionFactory } from '@app/models';
import { VARIANTS } from './label-group.variants';
import { WindowScoresExtractor } from './window-scores.extractor';

const ROOT = resolve(__dirname, '..', '..');
const CATALOG = resolve(ROOT, 'libs/models/src/catalog/efficientat-mn04.model.json');
const MEASUREMENTS = resolve(ROOT, 'libs/models/MEASUREMENTS.md');
const CURVE = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

interface Candidate {
  variant: string;
  labels: string[];
  rows: CalibrationRow[];
  cv: ReturnType<typeof crossValidate>;
  utility: number;
}

interface ClassResult {
  cls: AudioClass;
  best: Candidate;
  others: Candidate[];
  threshold: number;
  inSample: Totals;
  curve: { threshold: number; totals: Totals }[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      labels: { type: 'string', multiple: true },
      models: { type: 'string' },
      write: { type: 'boolean', default: false },
      'false-cost': { type: 'string', default: '3' },
      dump: { type: 'string' },
    },
  });
  const falseCost = Number(values['false-cost']);
  const labelFiles = values.labels ?? [
    resolve(ROOT, '../shared/fixtures/eval/labels.json'),
    resolve(ROOT, 'eval/corpus/labels.json'),
  ];
  const items = labelFiles
    .flatMap((file) => parseEvalLabels(JSON.parse(readFileSync(file, 'utf8')), file).items)
    .filter((item) => !/\.(jpe?g|png|bmp|mp4)$/i.test(item.file) || item.classes.some(isAudio));

  const modelsDir =
    values.models ?? process.env.VIGIL_MODELS_DIR ?? resolve(ROOT, '../shared/models');
  const loader = new ModelLoader(
    new ModelRepository(modelsDir),
    new OnnxSessionFactory(new Logger('onnxruntime')),
  );
  const model = await loader.audio('efficientat-mn04');
  const extractor = new WindowScoresExtractor(
    new MediaDecoder(new FfmpegLocator({ env: process.env })),
    model,
    resolve(ROOT, '.cache/calibration'),
  );
  const scored: { item: EvalItem; windows: WindowScores }[] = [];
  for (const [i, item] of items.entries()) {
    process.stderr.write(`\rwindow scores ${i + 1}/${items.length}\x1b[K`);
    const windows = await extractor.extract(item);
    if (windows.atSec.length > 0) scored.push({ item, windows });
  }
  process.stderr.write('\n');
  if (values.dump) dump(values.dump, scored, model.labels);

  const labelIndex = new Map(model.labels.map((l, i) => [l, i]));
  const catalog = JSON.parse(readFileSync(CATALOG, 'utf8'));
  const grid = logitGrid();
  const results: ClassResult[] = [];
  for (const cls of AUDIO_CLASSES) {
    const variants: Record<string, string[]> = { ...VARIANTS[cls] };
    const current = catalog.labelGroups[cls].labels as string[];
    if (!Object.values(variants).some((v) => same(v, current))) variants.catalog = current;
    const candidates = Object.entries(variants).map(([variant, labels]) => {
      const indices = labels.map((l) => {
        const index = labelIndex.get(l);
        if (index === undefined) throw new Error(`${cls}/${variant}: no label "${l}"`);
        return index;
      });
      const rows = scored.map(({ item, windows }) => ({
        source: item.source,
        labelled: item.classes.includes(cls),
        audioSec: windows.audioSec,
        tallies: sweepItem(
          {
            events: item.events.filter((e) => e.cls === cls),
            atSec: windows.atSec,
            scores: groupScores(windows, indices, 'noisy-or'),
          },
          grid,
        ),
      }));
      const cv = crossValidate(rows, falseCost);
      return {
        variant,
        labels,
        rows,
        cv,
        utility: cv.heldOut.hits - falseCost * cv.heldOut.falseDetections,
      };
    });
    candidates.sort((a, b) => b.utility - a.utility);
    const best = candidates[0];
    const index = chooseIndex(best.rows, falseCost);
    const indices = best.labels.map((l) => labelIndex.get(l)!);
    const curveRows = scored.map(({ item, windows }, k) => ({
      ...best.rows[k],
      tallies: sweepItem(
        {
          events: item.events.filter((e) => e.cls === cls),
          atSec: windows.atSec,
          scores: groupScores(windows, indices, 'noisy-or'),
        },
        CURVE,
      ),
    }));
    results.push({
      cls,
      best,
      others: candidates.slice(1),
      threshold: round(grid[index], 3),
      inSample: totalsAt(best.rows, () => index),
      curve: CURVE.map((threshold, t) => ({ threshold, totals: totalsAt(curveRows, () => t) })),
    });
  }

  const report = render(results, scored, falseCost);
  process.stdout.write(report);
  if (values.write) {
    for (const r of results) {
      catalog.labelGroups[r.cls].labels = r.best.labels;
      catalog.labelGroups[r.cls].threshold = r.threshold;
    }
    writeFileSync(CATALOG, JSON.stringify(catalog, null, 2) + '\n');
    const doc = readFileSync(MEASUREMENTS, 'utf8');
    const begin = '<!-- calibration:begin -->';
    const end = '<!-- calibration:end -->';
    const section = `${begin}\n${report}${end}`;
    writeFileSync(
      MEASUREMENTS,
      doc.includes(begin)
        ? doc.replace(new RegExp(`${begin}[\\s\\S]*${end}`), section)
        : `${doc.trimEnd()}\n\n${section}\n`,
    );
    process.stderr.write(`wrote ${CATALOG} and ${MEASUREMENTS}\n`);
  }
}

function render(
  results: ClassResult[],
  scored: { item: EvalItem; windows: WindowScores }[],
  falseCost: number,
): string {
  const sources = new Set(scored.map((s) => s.item.source)).size;
  const minutes = scored.reduce((m, s) => m + s.windows.audioSec, 0) / 60;
  const negatives = scored.filter((s) => s.item.classes.length === 0);
  const negMinutes = negatives.reduce((m, s) => m + s.windows.audioSec, 0) / 60;
  const lines = [
    '## Audio: label groups and thresholds, cross-validated by source (generated)',
    '',
    `Regenerated by \`npm run calibrate -- --write\` on ${scored.length} audio items from ${sources} sources ` +
      `(${minutes.toFixed(1)} min; ${negatives.length} negatives, ${negMinutes.toFixed(1)} min). Each class's score is ` +
      'the noisy-or of its label group per 1 s window (0.5 s hop); a window at or above the threshold is a detection, ' +
      'detections closer than 1 s form one, and it hits a labelled span when it starts within 1 s of it (the scoring of ' +
      '`vigil eval`). The threshold maximises hits − ' +
      `${falseCost} × false detections (the middle of the best plateau). **Held out** figures are leave-one-source-out: ` +
      'every source is scored at the threshold chosen on all the others, so no recording tunes its own threshold. ' +
      'FD/h: false detections per hour of audio not labelled with the class.',
    '',
    '| class | label group | threshold | held out: recall | held out: false (FD/h) | all items: recall | all items: false (FD/h) | other groups, held out (hits/events, false) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const cv = r.best.cv.heldOut;
    lines.push(
      `| ${r.cls} | ${r.best.variant}: ${r.best.labels.join('; ')} | ${r.threshold} | ${frac(cv.hits, cv.events)} | ` +
        `${cv.falseDetections} (${perHour(cv)}) | ${frac(r.inSample.hits, r.inSample.events)} | ` +
        `${r.inSample.falseDetections} (${perHour(r.inSample)}) | ` +
        `${r.others.map((o) => `${o.variant} ${o.cv.heldOut.hits}/${o.cv.heldOut.events}, ${o.cv.heldOut.falseDetections}`).join('; ') || '-'} |`,
    );
  }
  lines.push(
    '',
    'Thresholds chosen per held-out source (min–max), which shows how stable the choice is:',
    '',
  );
  for (const r of results) {
    const t = r.best.cv.folds.map((f) => logitGrid()[f.index]);
    lines.push(`- ${r.cls}: ${Math.min(...t).toFixed(3)}–${Math.max(...t).toFixed(3)}`);
  }
  lines.push(
    '',
    'The curve on all items (recall, false detections and FD/h at each threshold):',
    '',
  );
  lines.push(`| class | ${CURVE.join(' | ')} |`, `| --- | ${CURVE.map(() => '---').join(' | ')} |`);
  for (const r of results) {
    lines.push(
      `| ${r.cls} | ${r.curve.map((c) => `${pct(c.totals.hits, c.totals.events)}, ${c.totals.falseDetections} (${perHour(c.totals)})`).join(' | ')} |`,
    );
  }
  return lines.join('\n') + '\n';
}

function dump(
  dir: string,
  scored: { item: EvalItem; windows: WindowScores }[],
  labels: string[],
): void {
  const index = scored.map(({ item, windows }, i) => {
    writeFileSync(resolve(dir, `${i}.f32`), windows.scores);
    return {
      i,
      file: item.file,
      source: item.source,
      classes: item.classes,
      events: item.events,
      audioSec: windows.audioSec,
      atSec: windows.atSec,
    };
  });
  writeFileSync(resolve(dir, 'index.json'), JSON.stringify({ labels, items: index }));
}

function isAudio(cls: string): boolean {
  return (AUDIO_CLASSES as readonly string[]).includes(cls);
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

function frac(hits: number, events: number): string {
  return `${events ? (hits / events).toFixed(2) : '-'} (${hits}/${events})`;
}

function pct(hits: number, events: number): string {
  return events ? `${Math.round((100 * hits) / events)}%` : '-';
}

function perHour(t: Totals): string {
  return t.negativeHours > 0 ? (t.falseOnNegatives / t.negativeHours).toFixed(1) : '-';
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

main().catch((error) => {
  process.stderr.write(
    `calibrate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
