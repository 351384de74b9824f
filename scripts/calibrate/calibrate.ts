/**
 * Chooses each audio class's label group and threshold on the eval corpus with
 * leave-one-source-out cross-validation, and (with --write) stores them in the model catalog
 * and the figures in libs/models/MEASUREMENTS.md. One command regenerates both:
 *
 *   npm run calibrate -- [--write] [--labels FILE]... [--acceptance FILE]... [--false-cost N]
 *                        [--dump DIR] [--no-companion | --companions a,b] [--no-decisions]
 *
 * Default labels: ../shared/fixtures/eval/labels.json and eval/corpus/labels.json; default
 * acceptance items (which veto, never tune): ../shared/fixtures/labels.json. Window scores
 * come from the deployed front end and tagger (cached in .cache/calibration).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import * as prettier from 'prettier';
import { AUDIO_CLASSES, type AudioClass } from '@app/contracts';
import {
  type CalibrationRow,
  type Guarded,
  type EvalItem,
  type Totals,
  type WindowScores,
  type LogisticHead,
  baselineGate,
  chooseIndex,
  crossValidate,
  crossValidateFitted,
  exclusivityGate,
  fitLogistic,
  groupScores,
  logitGrid,
  parseEvalLabels,
  refuseWorseThan,
  sweepItem,
  withPresenceSpans,
  totalsAt,
} from '@app/evaluation';
import { FfmpegLocator, MediaDecoder } from '@app/media';
import {
  DEFAULT_AUDIO_MODEL,
  DEFAULT_VIDEO_MODEL,
  ModelLoader,
  ModelRepository,
  OnnxSessionFactory,
  logisticHead,
  logit,
  type LabelGroups,
  type ManifestDecisions,
  readsContext,
  sigmoid,
  COMPANION_MODELS,
} from '@app/models';
import { mediaOptionsFor } from '@app/pipeline';
import { VARIANTS } from './label-group.variants';

import { type CalibratedCompanion, WindowScoresExtractor } from './window-scores.extractor';

const ROOT = resolve(__dirname, '..', '..');
const CATALOG = resolve(ROOT, 'libs/models/src/catalog/efficientat-mn04.model.json');
const MEASUREMENTS = resolve(ROOT, 'libs/models/MEASUREMENTS.md');
const GRID = logitGrid();
/** How much better held out (hits − cost × false detections) a decision must do to replace the catalog's. */
const MARGIN = 2;
/** Alternatives listed beside each class in MEASUREMENTS.md (the others are counted). */
const RUNNERS_UP = 8;
/** Inverse regularisation strengths tried for a learned head. */
const HEAD_C = [0.01, 0.1];
/**
 * The longer context a class may be scored on instead of its 1 s window (it still moves on the
 * window's 0.5 s hop). 2 s won over 3 s on this corpus (held out, 2026-12-07): alarms 5/12 with no
 * false detection against 4/12 with 2, and 3 s costs half as much again to run.
 */
const CONTEXT_SEC = 2;
/**
 * Sustained sounds, the classes that may read the context. An impulse lasts well under a second:
 * a context only dilutes it, and keeps it in view for a second after its window has left it,
 * where the detection lands on whatever is loudest in the window then (glass on 2 s fired again
 * 1.7 s after comp01's break).
 */
const CONTEXT_CLASSES: readonly AudioClass[] = ['siren', 'alarm', 'car_horn', 'speech'];
/** The curve is shown around each chosen threshold, in logits. */
const CURVE_STEPS = [-3, -2, -1, -0.5, 0, 0.5, 1, 2];

/**
 * Candidates the best few are paired from: "any of" two decisions (two models, or a window and
 * its context, that each hear recordings of a class the other misses) and "all of" two (two
 * that must agree, where each alone is fooled by different sounds).
 */
const PAIRED_FROM = 6;
type Rule = 'any' | 'all';
const RULE_KEY = { any: 'anyOf', all: 'allOf' } as const;

type Decision =
  | { kind: 'noisy-or' }
  | { kind: 'head'; c: number; head: LogisticHead }
  /** Any or all members at or over their own thresholds (chosen for each on the same items). */
  | { kind: 'members'; rule: Rule; members: Candidate[]; thresholds: number[] };

interface Candidate {
  variant: string;
  labels: string[];
  /** Scored on the CONTEXT_SEC context rather than the window. */
  context: boolean;
  decision: Decision;
  rows: CalibrationRow[];
  cv: ReturnType<typeof crossValidate>;
  utility: number;
}

interface ClassResult {
  cls: AudioClass;
  best: Candidate;
  others: Candidate[];
  /** Better held out, but worse than the catalog's decision on the acceptance items. */
  refused: Guarded<Candidate, Totals>['refused'];
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
      'no-companion': { type: 'boolean', default: false },
      companions: { type: 'string' },
      'no-decisions': { type: 'boolean', default: false },
      acceptance: { type: 'string', multiple: true },
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
  // The dev clips and recordings every change must still get right (README's eval:clips): no
  // decision that does worse on them than the catalog's may replace it. Pictures and videos
  // judged on what is seen only (no audio class, no alert expected) have nothing to say here.
  const acceptanceItems = (
    values.acceptance ?? [resolve(ROOT, '../shared/fixtures/labels.json')]
  ).flatMap((file) =>
    parseEvalLabels(JSON.parse(readFileSync(file, 'utf8')), file).items.filter(
      (item) =>
        !/\.(jpe?g|png|bmp)$/i.test(item.file) &&
        (item.classes.some(isAudio) ||
          item.expectAlert !== undefined ||
          !/\.mp4$/i.test(item.file)),
    ),
  );

  const modelsDir =
    values.models ?? process.env.VIGIL_MODELS_DIR ?? resolve(ROOT, '../shared/models');
  const repository = new ModelRepository(modelsDir);
  const loader = new ModelLoader(repository, new OnnxSessionFactory(new Logger('onnxruntime')));
  const model = await loader.audio(DEFAULT_AUDIO_MODEL);
  const video = repository.resolve(DEFAULT_VIDEO_MODEL).manifest;
  // The companions Vigil can run, those installed (npm run models:companions), are calibrated
  // beside the tagger; --companions names a subset, --no-companion none.
  const wanted = values.companions?.split(',') ?? Object.keys(COMPANION_MODELS);
  const companions: (CalibratedCompanion & { names: string[] })[] = [];
  for (const name of values['no-companion'] ? [] : wanted) {
    const factory = COMPANION_MODELS[name];
    if (!factory) throw new Error(`--companions: no companion ${name}`);
    if (!repository.isInstalled(name)) {
      if (values.companions) throw new Error(`--companions: ${name} is not installed`);
      continue;
    }
    const resolved = repository.resolve(name);
    const session = await new OnnxSessionFactory(new Logger('onnxruntime')).create(
      resolved.onnxPath,
    );
    const { input, output } = resolved.manifest;
    const names = repository.labels(name);
    companions.push({
      model: factory(session, { input: input.name, output: output.name }),
      labels: names.length,
      names,
      sha256: resolved.manifest.sha256,
    });
  }
  const companionNames = companions.map((c) => c.model.name);
  const extractor = new WindowScoresExtractor(
    new MediaDecoder(new FfmpegLocator({ env: process.env })),
    model,
    mediaOptionsFor(model.manifest, video, 1),
    resolve(ROOT, '.cache/calibration'),
    CONTEXT_SEC,
    companions,
  );
  const allLabels = [
    ...model.labels,
    ...companions.flatMap((c) => c.names.map((l) => `${c.model.name}:${l}`)),
  ];
  const windowScored: Scored[] = [];
  for (const [i, item] of items.entries()) {
    process.stderr.write(`\rwindow scores ${i + 1}/${items.length}\x1b[K`);
    const windows = await extractor.extract(item);
    if (windows.atSec.length > 0) windowScored.push({ item, windows });
  }
  process.stderr.write('\n');
  if (values.dump) dump(values.dump, windowScored, allLabels);
  const acceptanceScored: Scored[] = [];
  for (const item of acceptanceItems) {
    const windows = await extractor.extract(item);
    if (windows.atSec.length > 0)
      acceptanceScored.push({ item: withPresenceSpans(item, windows.audioSec), windows });
  }

  const labelIndex = new Map(allLabels.map((l, i) => [l, i]));
  const catalog = JSON.parse(readFileSync(CATALOG, 'utf8'));
  const sources = [...new Set(windowScored.map((s) => s.item.source))];
  const results: ClassResult[] = [];
  // Counted as the product decides (ambient baseline, one impulse one class), unless told not.
  const policy = values['no-decisions'] ? {} : (catalog.decisions as ManifestDecisions);
  const decided = new Map<
    AudioClass,
    { scores: ArrayLike<number>[]; acceptance: ArrayLike<number>[]; threshold: number }
  >();
  const gateFor =
    (cls: AudioClass, set: 'corpus' | 'acceptance' = 'corpus'): Gate =>
    (k, scores) => {
      const on = set === 'corpus' ? windowScored : acceptanceScored;
      let out = policy.baseline ? baselineGate(scores, policy.baseline) : Float64Array.from(scores);
      for (const group of policy.exclusive ?? []) {
        if (!group.includes(cls)) continue;
        for (const other of group) {
          const rival = other === cls ? undefined : decided.get(other as AudioClass);
          if (!rival) continue;
          const { atSec } = on[k]!.windows;
          const against = {
            scores: rival[set === 'corpus' ? 'scores' : 'acceptance'][k]!,
            threshold: rival.threshold,
          };
          out = exclusivityGate(out, atSec, against, policy.exclusiveSec ?? 0.5);
        }
      }
      return out;
    };
  for (const cls of AUDIO_CLASSES) {
    process.stderr.write(`calibrating ${cls}\n`);
    const gate = gateFor(cls);
    const variants: Record<string, string[]> = { ...VARIANTS[cls] };
    // With companions, their groups are calibrated; the tagger's own stay as they are. A
    // group reads the tagger's labels with those of any set of companions, or one companion's.
    const incumbent =
      (companions.length > 0 && catalog.companion?.labelGroups[cls]) || catalog.labelGroups[cls];
    const current = incumbent.labels as string[];
    if (!Object.values(variants).some((v) => same(v, current))) variants.catalog = current;
    for (const [name, labels] of Object.entries({ ...variants })) {
      const base = labels.filter((l) => !l.includes(':'));
      const theirs = (companion: string) =>
        base.map((l) => `${companion}:${l}`).filter((l) => labelIndex.has(l));
      for (const set of subsets(companionNames))
        variants[`${name}+${set.join('+')}`] = [...base, ...set.flatMap(theirs)];
      for (const companion of companionNames) variants[`${companion}:${name}`] = theirs(companion);
    }
    const candidates: Candidate[] = [];
    for (const context of CONTEXT_CLASSES.includes(cls) ? [false, true] : [false])
      for (const [variant, labels] of Object.entries(variants)) {
        const scored = context ? onContext(windowScored) : windowScored;
        const indices = labels.map((l) => {
          const index = labelIndex.get(l);
          if (index === undefined) throw new Error(`${cls}/${variant}: no label "${l}"`);
          return index;
        });
        const ruleScores = scored.map(({ windows }) => groupScores(windows, indices, 'noisy-or'));
        const rows = rowsFor(scored, cls, ruleScores, GRID, gate);
        const cv = crossValidate(rows, falseCost);
        candidates.push({
          variant,
          labels,
          context,
          decision: { kind: 'noisy-or' },
          rows,
          cv,
          utility: utility(cv, falseCost),
        });
        for (const c of HEAD_C) {
          const logits = scored.map(({ windows }) => groupLogits(windows, indices));
          const fit = (keep: (source: string) => boolean) => fitHead(scored, cls, logits, keep, c);
          const cvHead = crossValidateFitted(
            sources,
            (heldOut) => {
              const head = fit((source) => source !== heldOut);
              return rowsFor(
                scored,
                cls,
                scored.map(({ windows }) => applyHead(head, windows, indices)),
                GRID,
                gate,
              );
            },
            falseCost,
          );
          const head = fit(() => true);
          const headRows = rowsFor(
            scored,
            cls,
            scored.map(({ windows }) => applyHead(head, windows, indices)),
            GRID,
            gate,
          );
          candidates.push({
            variant,
            labels,
            context,
            decision: { kind: 'head', c, head },
            rows: headRows,
            cv: cvHead,
            utility: utility(cvHead, falseCost),
          });
        }
      }
    // Held out decides; among equals, the fewer false detections held out (an operator pays for
    // those), then the better fit to the whole corpus at each one's own threshold.
    const fit = (c: Candidate) => {
      const totals = totalsAt(c.rows, () => chooseIndex(c.rows, falseCost));
      return totals.hits - falseCost * totals.falseDetections;
    };
    const rank = () =>
      candidates.sort(
        (a, b) =>
          b.utility - a.utility ||
          a.cv.heldOut.falseDetections - b.cv.heldOut.falseDetections ||
          fit(b) - fit(a),
      );
    rank();
    const paired = candidates.slice(0, PAIRED_FROM);
    const pairs: { rule: Rule; members: Candidate[] }[] = paired.flatMap((a, i) =>
      paired
        .slice(i + 1)
        .filter((b) => !same(a.labels, b.labels) || a.context !== b.context)
        .flatMap((b) => (['any', 'all'] as const).map((rule) => ({ rule, members: [a, b] }))),
    );
    // The catalog's own pair is always tried again, whether or not its members still rank.
    for (const rule of ['any', 'all'] as const) {
      const members = (incumbent[RULE_KEY[rule]] as CatalogDecision[] | undefined)?.map((m) =>
        candidates.find((c) => matches(c, m)),
      );
      if (members?.every(Boolean)) pairs.push({ rule, members: members as Candidate[] });
    }
    const foldScores = new FoldScores(windowScored, cls, sources, labelIndex);
    for (const { rule, members } of pairs)
      candidates.push(
        pairOf(rule, members, windowScored, cls, sources, foldScores, gate, falseCost),
      );
    rank();
    // The catalog's decision stays unless another does better held out by more than MARGIN:
    // with 12-22 events a class, one event or false detection either way is noise, and a
    // decision that won by noise was seen to drop a real smoke alarm (a head on CED alone).
    // A decision that loses an acceptance event the catalog's finds, or adds a false detection
    // there, is refused however it does on the corpus (a head on CED alone once won alarm on
    // klaxons and bells, and lost the dev clips' smoke alarm).
    const acceptanceGate = gateFor(cls, 'acceptance');
    const onAcceptance = (c: Candidate) => {
      const threshold = GRID[chooseIndex(c.rows, falseCost)];
      const rows = rowsFor(
        acceptanceScored,
        cls,
        decisionScores(c, acceptanceScored, labelIndex),
        [threshold],
        acceptanceGate,
      );
      return totalsAt(rows, () => 0);
    };
    const incumbentCandidate = candidates.find((c) => matches(c, incumbent));
    const bar = incumbentCandidate && onAcceptance(incumbentCandidate);
    const { ranked, refused } = bar
      ? refuseWorseThan(candidates, bar, onAcceptance)
      : { ranked: candidates, refused: [] };
    candidates.splice(0, candidates.length, ...ranked);
    const kept = incumbentCandidate;
    const best = kept && candidates[0]!.utility - kept.utility < MARGIN ? kept : candidates[0]!;
    candidates.splice(candidates.indexOf(best), 1);
    candidates.unshift(best);
    const index = chooseIndex(best.rows, falseCost);
    const bestScores = decisionScores(best, windowScored, labelIndex);
    const curve = CURVE_STEPS.map((step) => round(sigmoid(logit(GRID[index]) + step), 3));
    const curveRows = rowsFor(windowScored, cls, bestScores, curve, gate);
    const acceptanceScores = decisionScores(best, acceptanceScored, labelIndex);
    decided.set(cls, {
      scores: bestScores.map((scores, k) => gate(k, scores)),
      acceptance: acceptanceScores.map((scores, k) => acceptanceGate(k, scores)),
      threshold: round(GRID[index], 3),
    });
    results.push({
      cls,
      best,
      others: candidates.slice(1),
      refused,
      threshold: round(GRID[index], 3),
      inSample: totalsAt(best.rows, () => index),
      curve: curve.map((threshold, t) => ({ threshold, totals: totalsAt(curveRows, () => t) })),
    });
  }

  const report = render(results, windowScored, falseCost, companionNames);
  process.stdout.write(report);
  if (values.write) {
    if (companions.length > 0) {
      // Groups calibrated on these companions' scores apply only where they are all installed.
      catalog.companion = {
        models: companionNames,
        labelGroups: catalog.companion?.labelGroups ?? {},
      };
      for (const r of results)
        catalog.companion.labelGroups[r.cls] ??= { ...catalog.labelGroups[r.cls] };
    }
    const groups = companions.length > 0 ? catalog.companion.labelGroups : catalog.labelGroups;
    for (const r of results) {
      const group = groups[r.cls];
      for (const key of ['head', 'context', 'anyOf', 'allOf']) delete group[key];
      Object.assign(group, catalogDecision(r.best, r.threshold));
      // A release level belongs to the scale of the decision it was set for.
      if (group.release !== undefined && group.release > r.threshold) delete group.release;
      if (r.best.decision.kind === 'members') {
        const { rule, members, thresholds } = r.best.decision;
        group[RULE_KEY[rule]] = members.map((m, i) => catalogDecision(m, round(thresholds[i]!, 4)));
      }
    }
    // The tagger's own groups and the companion groups share the one context length.
    const reads = (groups?: LabelGroups) => Object.values(groups ?? {}).some(readsContext);
    if (reads(catalog.labelGroups) || reads(catalog.companion?.labelGroups))
      catalog.features.contextSec = CONTEXT_SEC;
    else delete catalog.features.contextSec;
    await writeFormatted(CATALOG, JSON.stringify(catalog, null, 2));
    const doc = readFileSync(MEASUREMENTS, 'utf8');
    // One section per set of models calibrated (the first, YAMNet's, kept its short name).
    const marker =
      companions.length > 0 ? `calibration-${companionNames.join('-')}` : 'calibration';
    const begin = `<!-- ${marker}:begin -->`;
    const end = `<!-- ${marker}:end -->`;
    const section = `${begin}\n${report}${end}`;
    await writeFormatted(
      MEASUREMENTS,
      doc.includes(begin)
        ? doc.replace(new RegExp(`${begin}[\\s\\S]*${end}`), section)
        : `${doc.trimEnd()}\n\n${section}\n`,
    );
    process.stderr.write(`wrote ${CATALOG} and ${MEASUREMENTS}\n`);
  }
}

/** Written as `npm run format` would write it, so a regeneration diffs only in substance. */
async function writeFormatted(path: string, text: string): Promise<void> {
  const options = { ...(await prettier.resolveConfig(path)), filepath: path };
  writeFileSync(path, await prettier.format(text, options));
}

function render(
  results: ClassResult[],
  scored: { item: EvalItem; windows: WindowScores }[],
  falseCost: number,
  companions: readonly string[],
): string {
  const sources = new Set(scored.map((s) => s.item.source)).size;
  const minutes = scored.reduce((m, s) => m + s.windows.audioSec, 0) / 60;
  const negatives = scored.filter((s) => s.item.classes.length === 0);
  const negMinutes = negatives.reduce((m, s) => m + s.windows.audioSec, 0) / 60;
  const lines = [
    companions.length > 0
      ? `## Audio with ${companions.join(' and ')} beside mn04: label groups and thresholds, cross-validated by source (generated)`
      : '## Audio: label groups and thresholds, cross-validated by source (generated)',
    '',
    ...(companions.length > 0
      ? [
          `The companion groups (\`companion.labelGroups\` in the catalog, used where ${companions.join(' and ')} ` +
            "are installed). A label `yamnet:X` is YAMNet's score for X on the 0.975 s patch centred on the window, " +
            "`ced-tiny:X` CED-Tiny's on the 2 s of audio ending with it (each the same for the window and its context); " +
            'a group may read any of the models.',
          '',
        ]
      : []),
    `Regenerated by \`npm run calibrate -- --write\` on ${scored.length} audio items from ${sources} sources ` +
      `(${minutes.toFixed(1)} min; ${negatives.length} negatives, ${negMinutes.toFixed(1)} min). Each class's score is ` +
      'per 1 s window (0.5 s hop) either the noisy-or of its label group or a learned head (a logistic regression on the ' +
      "group's label logits, balanced classes, L2 with C; positives within 0.5 s of a span, negatives over 1.5 s from any), " +
      `read on the window or, for the sustained classes (${CONTEXT_CLASSES.join(', ')}), on the ${CONTEXT_SEC} s of audio ` +
      `ending with it (\`on ${CONTEXT_SEC} s\`), or \`any of\` or \`all of\` two of the ${PAIRED_FROM} best of these, each at its own ` +
      "threshold (the class's score is the better or the worse one's margin over its threshold; in each fold the members' thresholds " +
      `and heads are those chosen without the held-out source), whichever does better held out (on a tie, the fewer false detections ` +
      `held out, then the better fit to all items; the catalog's decision stays unless another beats it by ${MARGIN} ` +
      "or more, and none may replace it that finds fewer of the dev clips' and fixture recordings' events " +
      '(`npm run eval:clips`) or adds a false detection there); a window at or above the threshold is a detection, ' +
      'detections closer than 1 s form one, and it hits a labelled span when it starts within 1 s of it (the scoring of ' +
      "`vigil eval`), counted as the inference stage decides (a stream's ambient baseline; one impulse, one class, " +
      'glass_break decided before gunshot). The threshold maximises hits − ' +
      `${falseCost} × false detections (the middle of the best plateau). **Held out** figures are leave-one-source-out: ` +
      'every source is scored at the threshold chosen on all the others, so no recording tunes its own threshold. ' +
      'FD/h: false detections per hour of audio not labelled with the class.',
    '',
    '| class | label group, decision | threshold | held out: recall | held out: false (FD/h) | all items: recall | all items: false (FD/h) | other groups, held out (hits/events, false) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const cv = r.best.cv.heldOut;
    lines.push(
      `| ${r.cls} | ${describe(r.best)}: ${r.best.labels.join('; ')} | ${r.threshold} | ${frac(cv.hits, cv.events)} | ` +
        `${cv.falseDetections} (${perHour(cv)}) | ${frac(r.inSample.hits, r.inSample.events)} | ` +
        `${r.inSample.falseDetections} (${perHour(r.inSample)}) | ` +
        `${runnersUp(r.others)} |`,
    );
  }
  const refusals = results.flatMap((r) =>
    r.refused.map(
      ({ candidate, acceptance }) =>
        `- ${r.cls}: ${describe(candidate)} (${candidate.labels.join('; ')}), held out ` +
        `${candidate.cv.heldOut.hits}/${candidate.cv.heldOut.events}, ${candidate.cv.heldOut.falseDetections}; ` +
        `on the acceptance items ${acceptance.hits}/${acceptance.events}, ${acceptance.falseDetections} false`,
    ),
  );
  if (refusals.length > 0)
    lines.push(
      '',
      "Better held out but refused, for doing worse than the catalog's decision on the acceptance items:",
      '',
      ...refusals,
    );
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
    'The curve on all items around each chosen threshold (−3 to +2 logits) — threshold: recall, false detections (FD/h):',
    '',
  );
  for (const r of results) {
    const points = r.curve.map(
      (c) =>
        `${c.threshold}: ${pct(c.totals.hits, c.totals.events)}, ${c.totals.falseDetections} (${perHour(c.totals)})`,
    );
    lines.push(`- ${r.cls}: ${points.join(' · ')}`);
  }
  return lines.join('\n') + '\n';
}

function describe(candidate: Candidate): string {
  const { decision } = candidate;
  if (decision.kind === 'members')
    return `${decision.rule} of (${decision.members.map(describe).join(' | ')})`;
  const rule = decision.kind === 'head' ? `head C=${decision.c}` : 'noisy-or';
  return `${candidate.variant} ${rule}${candidate.context ? ` on ${CONTEXT_SEC} s` : ''}`;
}

/** A decision as the catalog spells it (LabelDecision in @app/models). */
interface CatalogDecision {
  labels: string[];
  threshold: number;
  combine?: string;
  head?: { weights: number[]; bias: number };
  context?: boolean;
}

function catalogDecision(c: Candidate, threshold: number): CatalogDecision {
  const out: CatalogDecision = { labels: c.labels, threshold, combine: 'noisy-or' };
  if (c.decision.kind === 'head') {
    const { weights, bias } = c.decision.head;
    out.head = { weights: weights.map((w) => round(w, 5)), bias: round(bias, 5) };
  }
  if (c.context) out.context = true;
  return out;
}

/** Whether a candidate is the decision the catalog holds (labels, window or context, rule). */
function matches(
  c: Candidate,
  d: CatalogDecision & { anyOf?: CatalogDecision[]; allOf?: CatalogDecision[] },
): boolean {
  if (d.anyOf || d.allOf || c.decision.kind === 'members') {
    if (c.decision.kind !== 'members') return false;
    const { rule, members } = c.decision;
    const want = d[RULE_KEY[rule]];
    return want?.length === members.length && want.every((m, i) => matches(members[i]!, m));
  }
  return (
    same(c.labels, d.labels) &&
    c.context === (d.context === true) &&
    (c.decision.kind === 'head') === (d.head !== undefined)
  );
}

/**
 * Each candidate's window scores as a decision fitted without one source would give them: a
 * noisy-or's are the same in every fold; a head is fitted again without the source (cached).
 */
class FoldScores {
  private readonly cache = new Map<Candidate, Map<string, Float64Array[]>>();

  constructor(
    private readonly scored: readonly Scored[],
    private readonly cls: AudioClass,
    private readonly sources: readonly string[],
    private readonly labelIndex: ReadonlyMap<string, number>,
  ) {}

  without(c: Candidate, source: string): Float64Array[] {
    let folds = this.cache.get(c);
    if (!folds) {
      folds = new Map();
      this.cache.set(c, folds);
    }
    let scores = folds.get(source);
    if (!scores) {
      const { decision } = c;
      if (decision.kind === 'head') {
        const on = c.context ? onContext(this.scored) : this.scored;
        const indices = c.labels.map((l) => this.labelIndex.get(l)!);
        const logits = on.map(({ windows }) => groupLogits(windows, indices));
        const head = fitHead(on, this.cls, logits, (s) => s !== source, decision.c);
        scores = on.map(({ windows }) => applyHead(head, windows, indices));
      } else scores = this.full(c);
      folds.set(source, scores);
    }
    return scores;
  }

  /** Scores of a decision fitted on every source. */
  full(c: Candidate): Float64Array[] {
    return decisionScores(c, this.scored, this.labelIndex);
  }

  /** The member's threshold as its own cross-validation chose it without `source`. */
  threshold(c: Candidate, source: string): number {
    return GRID[c.cv.folds.find((f) => f.source === source)!.index]!;
  }
}

/**
 * Any or all of the members, cross-validated as one decision: without each source in turn,
 * every member reads the scores and threshold chosen without it, and the threshold on their
 * best (any) or worst (all) margin is chosen on the other sources.
 */
function pairOf(
  rule: Rule,
  members: Candidate[],
  scored: readonly Scored[],
  cls: AudioClass,
  sources: readonly string[],
  folds: FoldScores,
  gate: Gate,
  falseCost: number,
): Candidate {
  const cv = crossValidateFitted(
    sources,
    (heldOut) =>
      rowsFor(
        scored,
        cls,
        membersScores(
          rule,
          members.map((m) => folds.without(m, heldOut)),
          members.map((m) => folds.threshold(m, heldOut)),
        ),
        GRID,
        gate,
      ),
    falseCost,
  );
  const thresholds = members.map((m) => GRID[chooseIndex(m.rows, falseCost)]!);
  const candidate: Candidate = {
    variant: members.map((m) => m.variant).join('|'),
    labels: [...new Set(members.flatMap((m) => m.labels))],
    context: false,
    decision: { kind: 'members', rule, members, thresholds },
    rows: [],
    cv,
    utility: utility(cv, falseCost),
  };
  candidate.rows = rowsFor(scored, cls, folds.full(candidate), GRID, gate);
  return candidate;
}

/**
 * Per window, the best (any) or worst (all) member's margin over its threshold in logits, as a
 * score (LabelGroupMapper).
 */
function membersScores(
  rule: Rule,
  members: readonly Float64Array[][],
  thresholds: readonly number[],
): Float64Array[] {
  const pick = rule === 'any' ? Math.max : Math.min;
  return members[0]!.map((_, k) =>
    Float64Array.from(members[0]![k]!, (_, w) =>
      sigmoid(pick(...members.map((m, i) => logit(m[k]![w]!) - logit(thresholds[i]!)))),
    ),
  );
}

type Scored = { item: EvalItem; windows: WindowScores };

/** The same items with each window's scores replaced by those of its longer context. */
function onContext(scored: readonly Scored[]): Scored[] {
  return scored.map(({ item, windows }) => ({
    item,
    windows: { ...windows, scores: windows.context! },
  }));
}

function utility(cv: { heldOut: Totals }, falseCost: number): number {
  return cv.heldOut.hits - falseCost * cv.heldOut.falseDetections;
}

/** An item's window scores as the product decides them (see decision.gates.ts). */
type Gate = (item: number, scores: ArrayLike<number>) => ArrayLike<number>;

function rowsFor(
  scored: readonly { item: EvalItem; windows: WindowScores }[],
  cls: AudioClass,
  scores: readonly ArrayLike<number>[],
  thresholds: readonly number[],
  gate: Gate,
): CalibrationRow[] {
  return scored.map(({ item, windows }, k) => ({
    source: item.source,
    labelled: item.classes.includes(cls),
    audioSec: windows.audioSec,
    tallies: sweepItem(
      {
        events: item.events.filter((e) => e.cls === cls),
        atSec: windows.atSec,
        scores: gate(k, scores[k]!),
      },
      thresholds,
    ),
  }));
}

/**
 * A candidate's score per window of each item (on its context where it reads one): its head,
 * the noisy-or of its labels, or its members' best or worst margin.
 */
function decisionScores(
  c: Candidate,
  items: readonly Scored[],
  labelIndex: ReadonlyMap<string, number>,
): Float64Array[] {
  if (c.decision.kind === 'members') {
    const { rule, members, thresholds } = c.decision;
    return membersScores(
      rule,
      members.map((m) => decisionScores(m, items, labelIndex)),
      thresholds,
    );
  }
  const scored = c.context ? onContext(items) : items;
  const indices = c.labels.map((l) => labelIndex.get(l)!);
  return scored.map(({ windows }) =>
    c.decision.kind === 'head'
      ? applyHead(c.decision.head, windows, indices)
      : groupScores(windows, indices, 'noisy-or'),
  );
}

/** Per window, the logits of the group's labels (the head's features). */
function groupLogits(windows: WindowScores, indices: readonly number[]): number[][] {
  return windows.atSec.map((_, w) =>
    indices.map((i) => logit(windows.scores[w * windows.labels + i])),
  );
}

/** The head's score per window, by the very function the label-group mapper runs. */
function applyHead(
  head: LogisticHead,
  windows: WindowScores,
  indices: readonly number[],
): Float64Array {
  return Float64Array.from(windows.atSec, (_, w) =>
    logisticHead(
      head,
      indices.map((i) => windows.scores[w * windows.labels + i]),
    ),
  );
}

/**
 * Window labels for a head: positive within 0.5 s of a span of the class, negative on items
 * without the class and more than 1.5 s from any of its spans; the rest is left out.
 */
function fitHead(
  scored: readonly { item: EvalItem; windows: WindowScores }[],
  cls: AudioClass,
  logits: readonly number[][][],
  keep: (source: string) => boolean,
  c: number,
): LogisticHead {
  const rows: number[][] = [];
  const labels: (0 | 1)[] = [];
  scored.forEach(({ item, windows }, k) => {
    if (!keep(item.source)) return;
    const spans = item.events.filter((e) => e.cls === cls);
    windows.atSec.forEach((at, w) => {
      const distance = Math.min(
        Infinity,
        ...spans.map((e) => Math.max(0, e.start - at, at - e.end)),
      );
      const label = distance <= 0.5 ? 1 : distance > 1.5 ? 0 : undefined;
      if (label === undefined) return;
      rows.push(logits[k][w]);
      labels.push(label);
    });
  });
  return fitLogistic(rows, labels, c);
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

/** The best few alternatives, so the table stays readable; the rest are only counted. */
function runnersUp(others: readonly Candidate[]): string {
  if (others.length === 0) return '-';
  const shown = others
    .slice(0, RUNNERS_UP)
    .map(
      (o) =>
        `${describe(o)} ${o.cv.heldOut.hits}/${o.cv.heldOut.events}, ${o.cv.heldOut.falseDetections}`,
    );
  const rest = others.length - shown.length;
  return shown.join('; ') + (rest > 0 ? `; ${rest} more` : '');
}

/** Every non-empty subset of `names`, each in the order given. */
function subsets(names: readonly string[]): string[][] {
  const out: string[][] = [];
  for (let mask = 1; mask < 1 << names.length; mask++)
    out.push(names.filter((_, i) => mask & (1 << i)));
  return out;
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
