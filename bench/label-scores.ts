/**
 * Measures what the catalogued models score on the labelled fixtures, to choose label groups,
 * combine rules, per-class thresholds and the audio window/hop. Results and the choices made
 * from them: libs/models/MEASUREMENTS.md.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/label-scores.ts [--json out.json] [--no-mix]
 *
 * Audio items:
 * - file: every recording in labels.json "audio" (events are isolated, 0.6–1.6 s long);
 * - clip: the audio of the composed clips (events inside 10 s of quiet ambience);
 * - mix (unless --no-mix): each short event file placed at 4 s into 10 s of each ambience bed,
 *   the way the clips were composed (event peak −3 dBFS over a bed at −45 dBFS RMS), plus a
 *   harder −30 dBFS bed. An isolated 0.6 s file is one short window, while in a stream the same
 *   event shares a full window with background; the mixes show what deployed windows see.
 * Negatives of a class are all items not labelled with it: ambience, and the other classes.
 *
 * Video: every labelled image, dog.jpg, and frames of the clips and the one-by-one people video.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { AUDIO_CLASSES, VIDEO_CLASSES } from '@app/contracts';
import type { FrameGeometry } from '@app/contracts';
import { EFFICIENTAT_RECIPE, LogMelExtractor, WindowAssembler } from '@app/dsp';
import {
  BoxLabelMapper,
  combine,
  COMBINE_RULES,
  ModelLoader,
  ModelRepository,
  ObjectDetector,
  OnnxSessionFactory,
  scaledGeometry,
} from '@app/models';
import type { CombineRule, ModelManifest, RawBox } from '@app/models';
import { fixture, fixtureLabels, modelsDir } from '@app/testing';
import { VARIANTS } from '../scripts/calibrate/label-group.variants';
import { runBench } from './bench.support';

const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';
const SR = EFFICIENTAT_RECIPE.sampleRate;
const FPS = SR / EFFICIENTAT_RECIPE.hopLength;

const WINDOW_CONFIGS: [number, number][] = [
  [1, 0.5],
  [1, 0.25],
  [2, 0.5],
  [3, 1],
];

// Label-group variants: the calibration's list (scripts/calibrate), one list for both tools.

type Kind = 'file' | 'clip' | 'mix';

interface AudioItem {
  name: string;
  /** Classes present (ground truth). */
  classes: string[];
  kind: Kind;
  pcm: Float32Array;
}

interface ScoredItem {
  name: string;
  classes: string[];
  kind: Kind;
  /** Per window/hop config ("1/0.5"): the model's probabilities per window. */
  windows: Record<string, Float32Array[]>;
}

const configName = ([w, h]: [number, number]) => `${w}/${h}`;
const fmt = (x: number) => x.toFixed(3);
/** Box scores come from a 0.1 decoder cut: 0 means nothing was decoded at all. */
const boxScore = (x: number) => (x > 0 ? fmt(x) : '<0.1');
// Clamped so a capped `sum` (exactly 1) reads as very confident rather than infinitely so.
const logit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-4), 0.99);
  return Math.log(q / (1 - q));
};

function short(n: string): string {
  if (n.startsWith('mix:')) return n.slice(4);
  const name = basename(n).replace(/\.[a-z0-9]+$/, '');
  // Ambience names differ only after a long common prefix.
  return name.replace(/^ambience_(blanket_|fs\d+_)?/, 'amb_').slice(0, 24);
}

function bedName(path: string): string {
  const known = /room-tone|wind|summer-night|rain/.exec(path);
  return known ? known[0] : short(path);
}

function decodeAudio(path: string): Float32Array {
  const out = execFileSync(
    FFMPEG,
    ['-v', 'error', '-i', path, '-vn', '-ac', '1', '-ar', String(SR), '-f', 'f32le', 'pipe:1'],
    {
      maxBuffer: 1 << 30,
    },
  );
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

function peak(x: Float32Array): number {
  let p = 0;
  for (const v of x) p = Math.max(p, Math.abs(v));
  return p;
}

/** `event` at `atSec`, peak at −3 dBFS, over 10 s of `bed` scaled to `bedDbfs` RMS. */
function mix(bed: Float32Array, event: Float32Array, atSec: number, bedDbfs: number): Float32Array {
  const out = new Float32Array(10 * SR);
  const offset = Math.floor(2 * SR); // past any fade-in at the start of the bed
  const bedPart = bed.subarray(offset, offset + out.length);
  const bedGain = Math.pow(10, bedDbfs / 20) / Math.max(rms(bedPart), 1e-9);
  for (let i = 0; i < bedPart.length; i++) out[i] = bedPart[i]! * bedGain;
  const eventGain = Math.pow(10, -3 / 20) / Math.max(peak(event), 1e-9);
  const at = Math.floor(atSec * SR);
  for (let i = 0; i < event.length && at + i < out.length; i++)
    out[at + i] = out[at + i]! + event[i]! * eventGain;
  return out;
}

function windowsOf(logmel: Float32Array, frames: number, [windowSec, hopSec]: [number, number]) {
  const mels = EFFICIENTAT_RECIPE.melBins;
  const frameMajor = new Float32Array(logmel.length);
  for (let m = 0; m < mels; m++)
    for (let t = 0; t < frames; t++) frameMajor[t * mels + m] = logmel[m * frames + t]!;
  // The pipeline's own window assembler, so the bench sees exactly the windows a stream would.
  const assembler = new WindowAssembler({
    melBins: mels,
    windowFrames: Math.round(windowSec * FPS),
    hopFrames: Math.round(hopSec * FPS),
  });
  return [...assembler.push(frameMajor), ...assembler.end()];
}

async function scoreAudio(
  loader: ModelLoader,
  items: AudioItem[],
): Promise<{ scored: ScoredItem[]; labels: string[]; manifest: ModelManifest }> {
  const { tagger, labels, manifest } = await loader.audio('efficientat-mn04');
  const extractor = new LogMelExtractor(EFFICIENTAT_RECIPE);
  const scored: ScoredItem[] = [];
  for (const item of items) {
    const logmel = extractor.compute(item.pcm);
    const frames = logmel.length / EFFICIENTAT_RECIPE.melBins;
    const windows: Record<string, Float32Array[]> = {};
    for (const config of WINDOW_CONFIGS) {
      const cut = windowsOf(logmel, frames, config);
      windows[configName(config)] = await tagger.classify(
        cut.map((w) => ({ data: w.data, frames: w.frames })),
      );
    }
    scored.push({ name: item.name, classes: item.classes, kind: item.kind, windows });
  }
  return { scored, labels, manifest };
}

/** Max over an item's windows of the group's combined score. */
function itemScore(item: ScoredItem, config: string, indices: number[], rule: CombineRule): number {
  let best = 0;
  for (const s of item.windows[config]!)
    best = Math.max(
      best,
      combine(
        rule,
        indices.map((i) => s[i]!),
      ),
    );
  return best;
}

interface Separation {
  pos: { name: string; v: number }[];
  neg: { name: string; v: number }[];
  minPos: { name: string; v: number };
  maxNeg: { name: string; v: number };
  /** Misses + false alarms at the best single threshold. */
  bestErrors: number;
  bestThreshold: number;
}

function separate(
  items: ScoredItem[],
  cls: string,
  config: string,
  indices: number[],
  rule: CombineRule,
): Separation {
  const scoredItems = items.map((it) => ({
    name: it.name,
    v: itemScore(it, config, indices, rule),
    pos: it.classes.includes(cls),
  }));
  const pos = scoredItems.filter((x) => x.pos).sort((a, b) => a.v - b.v);
  const neg = scoredItems.filter((x) => !x.pos).sort((a, b) => b.v - a.v);
  let bestErrors = Infinity;
  let bestThreshold = 0;
  for (const t of [...pos.map((p) => p.v), 1.01]) {
    const errors = pos.filter((p) => p.v < t).length + neg.filter((n) => n.v >= t).length;
    if (errors < bestErrors) {
      bestErrors = errors;
      bestThreshold = t;
    }
  }
  return { pos, neg, minPos: pos[0]!, maxNeg: neg[0]!, bestErrors, bestThreshold };
}

function reportAudio(
  scored: ScoredItem[],
  labels: string[],
  manifest: ModelManifest,
): Record<string, unknown> {
  const index = new Map(labels.map((l, i) => [l, i]));
  const idx = (names: string[]) =>
    names.map((n) => {
      const i = index.get(n);
      if (i === undefined) throw new Error(`"${n}" is not an AudioSet label`);
      return i;
    });
  const real = scored.filter((s) => s.kind !== 'mix');
  const groups = manifest.labelGroups;
  const chosen = `${manifest.features!.windowSec}/${manifest.features!.hopSec}`;

  console.log(`\n## What the model hears (window ${chosen}, max over windows, top 6 labels)\n`);
  for (const it of scored.filter((s) => s.kind !== 'mix' || s.name.endsWith('@-45'))) {
    const all = new Float32Array(labels.length);
    for (const s of it.windows[chosen]!)
      for (let i = 0; i < s.length; i++) all[i] = Math.max(all[i]!, s[i]!);
    const top = [...all]
      .map((v, i) => [labels[i]!, v] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6);
    console.log(
      `${short(it.name)} [${it.classes.join(',') || '-'}]: ${top.map(([l, v]) => `${l} ${fmt(v)}`).join('; ')}`,
    );
  }

  console.log(`\n## Label groups x combine rule x window/hop\n`);
  console.log('minPos/maxNeg: lowest positive and highest negative item score (max over windows);');
  console.log('lm: logit(minPos) - logit(maxNeg), > 0 means one threshold separates them all;');
  console.log(
    'err: misses + false alarms at the best threshold. Items: real (files+clips) | all (+mixes).\n',
  );
  for (const cls of AUDIO_CLASSES) {
    const variants: [string, string[]][] = Object.entries(VARIANTS[cls]);
    if (groups[cls]) variants.push(['catalog', groups[cls].labels]);
    console.log(`${cls}:`);
    for (const [variant, names] of variants) {
      const indices = idx(names);
      for (const config of WINDOW_CONFIGS.map(configName)) {
        for (const rule of COMBINE_RULES) {
          const r = separate(real, cls, config, indices, rule);
          const a = separate(scored, cls, config, indices, rule);
          console.log(
            `  ${variant.padEnd(17)} ${config.padEnd(6)} ${rule.padEnd(8)} ` +
              `real: minPos ${fmt(r.minPos.v)} maxNeg ${fmt(r.maxNeg.v)} lm ${logit(r.minPos.v) - logit(r.maxNeg.v) >= 0 ? '+' : ''}${(logit(r.minPos.v) - logit(r.maxNeg.v)).toFixed(2)} err ${r.bestErrors}/${real.length} | ` +
              `all: minPos ${fmt(a.minPos.v)} maxNeg ${fmt(a.maxNeg.v)} (${short(a.maxNeg.name)}) lm ${(logit(a.minPos.v) - logit(a.maxNeg.v)).toFixed(2)} err ${a.bestErrors}/${scored.length} @${fmt(a.bestThreshold)}`,
          );
        }
      }
    }
  }

  console.log(`\n## Catalog setting: window ${chosen}, catalog groups, rules and thresholds\n`);
  const summary: Record<string, unknown> = {};
  for (const [cls, group] of Object.entries(groups)) {
    const rule = group!.combine ?? 'max';
    const t = group!.threshold;
    const sep = separate(scored, cls, chosen, idx(group!.labels), rule);
    const line = (x: { name: string; v: number }) => `${fmt(x.v)} ${short(x.name)}`;
    const isMix = (x: { name: string }) => x.name.startsWith('mix:');
    const count = (
      xs: { name: string; v: number }[],
      pred: (x: { name: string; v: number }) => boolean,
    ) => xs.filter(pred).length;
    console.log(`${cls}: threshold ${t}, ${rule} of [${group!.labels.join(' | ')}]`);
    const subsets = [
      ['real', (x: { name: string }) => !isMix(x)],
      ['mix@-45', (x: { name: string }) => isMix(x) && x.name.endsWith('@-45')],
      ['mix@-30', (x: { name: string }) => isMix(x) && x.name.endsWith('@-30')],
    ] as const;
    for (const [what, filter] of subsets) {
      const pos = sep.pos.filter(filter);
      const neg = sep.neg.filter(filter);
      if (pos.length + neg.length === 0) continue;
      console.log(
        `  ${what}: hits ${count(pos, (x) => x.v >= t)}/${pos.length}, false alarms ${count(neg, (x) => x.v >= t)}/${neg.length}` +
          (pos.length ? `, lowest positive ${line(pos[0]!)}` : '') +
          `, highest negative ${line(neg[0]!)}`,
      );
      if (pos.length) console.log(`    positives low→high: ${pos.map(line).join(', ')}`);
      console.log(`    negatives high→low: ${neg.slice(0, 6).map(line).join(', ')}`);
    }
    summary[cls] = {
      threshold: t,
      rule,
      labels: group!.labels,
      pos: sep.pos,
      neg: sep.neg.slice(0, 20),
    };
  }
  return summary;
}

function grabFrame(path: string, filter: string, width: number, height: number, atSec?: number) {
  const args = [
    '-v',
    'info',
    '-nostats',
    ...(atSec !== undefined ? ['-ss', String(atSec)] : []),
    '-i',
    path,
    '-frames:v',
    '1',
    '-vf',
    filter,
    '-f',
    'rawvideo',
    '-pix_fmt',
    'bgr24',
    'pipe:1',
  ];
  const res = spawnSync(FFMPEG, args, { maxBuffer: 1 << 28 });
  if (res.status !== 0)
    throw new Error(`ffmpeg failed on ${path}: ${res.stderr.toString().slice(-500)}`);
  // showinfo prints each filter stage's frame size: the source, then the scaled picture.
  const sizes = [...res.stderr.toString().matchAll(/Parsed_showinfo.* s:(\d+)x(\d+)/g)].map(
    (m) => [Number(m[1]), Number(m[2])] as [number, number],
  );
  const pixels = new Uint8Array(res.stdout.buffer, res.stdout.byteOffset, res.stdout.byteLength);
  if (pixels.length !== width * height * 3) throw new Error(`${path}: got ${pixels.length} bytes`);
  return { pixels, sizes };
}

/**
 * A frame as the detector's manifest asks: letterboxed top-left or stretched. Bilinear
 * scaling, like the cv2.INTER_LINEAR both detectors were trained and evaluated with.
 */
function frameFor(
  manifest: ModelManifest,
  path: string,
  atSec?: number,
): { pixels: Uint8Array; geometry: FrameGeometry } {
  const { width, height, resize, padColor } = manifest.input as Required<ModelManifest['input']>;
  if (resize === 'letterbox-topleft') {
    const filter = `showinfo,scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=bilinear,showinfo,format=bgr24,pad=${width}:${height}:0:0:color=${padColor}`;
    const { pixels, sizes } = grabFrame(path, filter, width, height, atSec);
    const [[sw, sh], [w, h]] = sizes as [[number, number], [number, number]];
    return { pixels, geometry: scaledGeometry(sw, sh, w, h) };
  }
  const { pixels, sizes } = grabFrame(
    path,
    `showinfo,scale=${width}:${height}:flags=bilinear`,
    width,
    height,
    atSec,
  );
  const [[sw, sh]] = sizes as [[number, number]];
  return { pixels, geometry: scaledGeometry(sw, sh, width, height) };
}

interface ImageItem {
  path: string;
  atSec?: number;
  classes: string[];
}

async function reportVideo(
  repository: ModelRepository,
  sessions: OnnxSessionFactory,
  items: ImageItem[],
): Promise<Record<string, unknown>> {
  const json: Record<string, unknown> = {};
  for (const model of ['yolox-nano', 'fastestdet']) {
    const { manifest, onnxPath } = repository.resolve(model);
    const labels = repository.labels(model);
    // Decode below the catalog's cut so near-misses and would-be false alarms show up.
    const probe = { ...manifest, nms: { ...manifest.nms!, scoreThreshold: 0.1 } };
    const session = await sessions.create(onnxPath);
    const detector = new ObjectDetector(session, probe, labels);
    const groupOf = new Map<string, string>();
    for (const [cls, g] of Object.entries(manifest.labelGroups))
      for (const l of g!.labels) groupOf.set(l, cls);
    const mapper = new BoxLabelMapper(labels, manifest.labelGroups, manifest.nms!.iou);
    console.log(
      `\n## ${model}: best box per class (decoder cut 0.1) [truth]; => detections at the catalog thresholds\n`,
    );
    const rows: unknown[] = [];
    const outcomes: {
      name: string;
      classes: string[];
      found: string[];
      best: Record<string, number>;
    }[] = [];
    for (const item of items) {
      const frame = frameFor(manifest, item.path, item.atSec);
      const boxes: RawBox[] = await detector.detect({
        ...frame,
        width: manifest.input.width!,
        height: manifest.input.height!,
      });
      const perClass: Record<string, { score: number; label: string }> = {};
      for (const b of boxes) {
        const cls = groupOf.get(b.label);
        if (cls && (perClass[cls]?.score ?? 0) < b.score)
          perClass[cls] = { score: b.score, label: b.label };
      }
      const others = boxes.filter((b) => !groupOf.has(b.label)).slice(0, 2);
      const detections = mapper.detect(boxes);
      const name =
        item.atSec !== undefined ? `${short(item.path)}@${item.atSec}s` : short(item.path);
      console.log(
        `${name.padEnd(22)} [${item.classes.join(',') || '-'}] ` +
          VIDEO_CLASSES.map(
            (c) => `${c} ${perClass[c] ? `${fmt(perClass[c].score)} ${perClass[c].label}` : '-'}`,
          ).join(', ') +
          (others.length
            ? ` | other: ${others.map((b) => `${b.label} ${fmt(b.score)}`).join(', ')}`
            : '') +
          ` => ${detections.map((d) => `${d.cls} ${fmt(d.score)} [${d.box!.map(Math.round).join(',')}]`).join('; ') || 'nothing'}`,
      );
      rows.push({ name, classes: item.classes, perClass, detections });
      outcomes.push({
        name,
        classes: item.classes,
        found: detections.map((d) => d.cls),
        best: Object.fromEntries(Object.entries(perClass).map(([c, v]) => [c, v.score])),
      });
    }
    console.log(`\n${model} at the catalog thresholds:`);
    for (const cls of VIDEO_CLASSES) {
      const t = manifest.labelGroups[cls]?.threshold;
      const pos = outcomes.filter((o) => o.classes.includes(cls));
      const neg = outcomes.filter((o) => !o.classes.includes(cls));
      const found = (o: (typeof outcomes)[number]) => o.found.includes(cls);
      const best = (o: (typeof outcomes)[number]) => o.best[cls] ?? 0;
      const missed = pos.filter((o) => !found(o));
      const alarms = neg.filter(found);
      console.log(
        `  ${cls} (threshold ${t}): hits ${pos.length - missed.length}/${pos.length}` +
          (missed.length
            ? ` (missed: ${missed.map((o) => `${o.name} ${fmt(best(o))}`).join(', ')})`
            : '') +
          `, false alarms ${alarms.length}/${neg.length}` +
          (alarms.length ? ` (${alarms.map((o) => `${o.name} ${fmt(best(o))}`).join(', ')})` : '') +
          `; lowest positive ${boxScore(Math.min(...pos.map(best)))}, highest negative ${boxScore(Math.max(...neg.map(best)))}`,
      );
    }
    json[model] = rows;
    await session.release();
  }
  return json;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
  const withMixes = !args.includes('--no-mix');
  const truth = fixtureLabels();
  const repository = new ModelRepository(modelsDir());
  const sessions = new OnnxSessionFactory({ log: () => undefined, warn: (m) => console.warn(m) });
  const loader = new ModelLoader(repository, sessions);

  const items: AudioItem[] = [];
  for (const [rel, classes] of Object.entries(truth.audio)) {
    items.push({ name: rel, classes, kind: 'file', pcm: decodeAudio(fixture(rel)) });
  }
  for (const [rel, clip] of Object.entries(truth.clips)) {
    items.push({
      name: rel,
      classes: [...new Set(clip.audio.map((a) => a.class))],
      kind: 'clip',
      pcm: decodeAudio(fixture(rel)),
    });
  }
  if (withMixes) {
    const beds = items.filter((i) => i.kind === 'file' && i.name.includes('ambience_'));
    // Events up to 6 s go in whole; longer recordings (alarm, speech) contribute a 3 s excerpt
    // where the event is (the alarm's first beep group starts at 3.4 s).
    const excerptStart: Record<string, number> = { alarm: 3.3, speech: 0 };
    const events = items
      .filter((i) => i.kind === 'file' && i.classes.length > 0)
      .map((i) => {
        if (i.pcm.length <= 6 * SR) return i;
        const start = Math.floor((excerptStart[i.classes[0]!] ?? 0) * SR);
        return { ...i, pcm: i.pcm.subarray(start, start + 3 * SR) };
      });
    for (const bedDb of [-45, -30]) {
      for (const ev of events) {
        for (const bed of beds) {
          items.push({
            name: `mix:${short(ev.name)}+${bedName(bed.name)}@${bedDb}`,
            classes: ev.classes,
            kind: 'mix',
            pcm: mix(bed.pcm, ev.pcm, 4, bedDb),
          });
        }
      }
    }
  }
  const { scored, labels, manifest } = await scoreAudio(loader, items);
  const audio = reportAudio(scored, labels, manifest);

  const images: ImageItem[] = Object.entries(truth.images).map(([rel, classes]) => ({
    path: fixture(rel),
    classes,
  }));
  images.push({ path: fixture('reference/dog.jpg'), classes: ['animal', 'vehicle'] });
  for (const [rel, clip] of Object.entries(truth.clips)) {
    const classes = [...new Set(clip.video.map((v) => v.class))];
    for (const t of [1, 5, 9]) images.push({ path: fixture(rel), atSec: t, classes });
  }
  // People walk in one at a time (labels.json "video"): sample inside and between their spans.
  const people = fixture('video/intel_one-by-one-person-detection.mp4');
  const samples: [number, boolean][] = [
    [3, false],
    [12, true],
    [30, true],
    [47, false],
    [60, true],
    [73, false],
    [80, true],
    [89, false],
    [105, true],
    [122, false],
    [130, true],
  ];
  for (const [t, present] of samples)
    images.push({ path: people, atSec: t, classes: present ? ['person'] : [] });
  const video = await reportVideo(repository, sessions, images);

  if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ audio, video }, null, 1));
}

runBench(main);
