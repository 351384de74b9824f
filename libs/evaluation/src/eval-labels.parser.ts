import { isAbsolute, resolve } from 'node:path';
import { type CanonicalClass, AUDIO_CLASSES, VIDEO_CLASSES } from '@app/contracts';
import { type EvalItem, type EvalSet, EvalLabelsError, type LabelledEvent } from './eval-labels';

const KNOWN: readonly string[] = [...AUDIO_CLASSES, ...VIDEO_CLASSES];

/**
 * Reads either labels format Vigil knows:
 * - the eval corpus: `{ items: [{ file, source, classes, events: [{ class, start, end }] }] }`;
 * - the fixtures' clips format: `{ clips: { file: { audio: [...], video: [...], alert } },
 *   audio: { file: [classes] }, images: { file: [classes] }, video: { file: { cls: [[s, e]] } } }`.
 * Files are relative to `root` (default: the labels file's folder). Every problem names the item.
 */
export function parseEvalLabels(raw: unknown, labelsPath: string, root?: string): EvalSet {
  const base = root ?? resolve(labelsPath, '..');
  const at = (file: string) => (isAbsolute(file) ? file : resolve(base, file));
  if (!isRecord(raw)) throw new EvalLabelsError(`${labelsPath}: expected a JSON object`);
  const items = Array.isArray(raw.items)
    ? raw.items.map((entry, i) => corpusItem(entry, `items[${i}]`, at))
    : clipsFormat(raw, labelsPath, at);
  if (items.length === 0) throw new EvalLabelsError(`${labelsPath}: no items to score`);
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.path)) throw new EvalLabelsError(`${item.file}: listed twice`);
    seen.add(item.path);
  }
  return { labelsPath, items };
}

/** Several labelled sets scored as one (the shared corpus and the project's additions). */
export function mergeEvalSets(sets: readonly EvalSet[]): EvalSet {
  const seen = new Set<string>();
  for (const item of sets.flatMap((s) => s.items)) {
    if (seen.has(item.path)) throw new EvalLabelsError(`${item.file}: listed twice (${item.path})`);
    seen.add(item.path);
  }
  return {
    labelsPath: sets.map((s) => s.labelsPath).join(' '),
    items: sets.flatMap((s) => s.items),
  };
}

function corpusItem(entry: unknown, where: string, at: (file: string) => string): EvalItem {
  if (!isRecord(entry)) throw new EvalLabelsError(`${where}: expected an object`);
  const file = text(entry.file, `${where}.file`);
  const name = `${where} (${file})`;
  const classes = classList(entry.classes ?? [], `${name}.classes`);
  const events = list(entry.events ?? [], `${name}.events`).map((e, k) =>
    labelledEvent(e, `${name}.events[${k}]`),
  );
  for (const event of events) {
    if (!classes.includes(event.cls)) {
      throw new EvalLabelsError(`${name}: event class "${event.cls}" is not in its classes`);
    }
  }
  return {
    file,
    path: at(file),
    source: entry.source === undefined ? file : text(entry.source, `${name}.source`),
    classes,
    events,
  };
}

function clipsFormat(
  raw: Record<string, unknown>,
  labelsPath: string,
  at: (file: string) => string,
): EvalItem[] {
  const sections = ['clips', 'audio', 'images', 'video'].filter((k) => raw[k] !== undefined);
  if (sections.length === 0) {
    throw new EvalLabelsError(
      `${labelsPath}: expected "items" or "clips"/"audio"/"images"/"video"`,
    );
  }
  const items: EvalItem[] = [];
  for (const [file, clip] of entries(raw.clips, 'clips')) {
    const name = `clips["${file}"]`;
    if (!isRecord(clip)) throw new EvalLabelsError(`${name}: expected an object`);
    const events = [
      ...list(clip.audio ?? [], `${name}.audio`),
      ...list(clip.video ?? [], `${name}.video`),
    ].map((e, k) => labelledEvent(e, `${name} span ${k}`));
    if (clip.alert !== undefined && typeof clip.alert !== 'boolean') {
      throw new EvalLabelsError(`${name}.alert: expected true or false`);
    }
    items.push({
      ...spanned(file, at, events),
      ...(clip.alert === undefined ? {} : { expectAlert: clip.alert }),
    });
  }
  for (const section of ['audio', 'images'] as const) {
    for (const [file, classes] of entries(raw[section], section)) {
      const name = `${section}["${file}"]`;
      items.push({
        file,
        path: at(file),
        source: file,
        classes: classList(classes, name),
        events: [],
      });
    }
  }
  for (const [file, spans] of entries(raw.video, 'video')) {
    const name = `video["${file}"]`;
    if (!isRecord(spans)) throw new EvalLabelsError(`${name}: expected an object`);
    const events: LabelledEvent[] = [];
    for (const [cls, ranges] of Object.entries(spans)) {
      if (cls === 'note') continue;
      const known = canonical(cls, `${name}.${cls}`);
      list(ranges, `${name}.${cls}`).forEach((range, k) => {
        const where = `${name}.${cls}[${k}]`;
        if (!Array.isArray(range) || range.length !== 2) {
          throw new EvalLabelsError(`${where}: expected [start, end]`);
        }
        events.push(span(known, range[0], range[1], where));
      });
    }
    items.push(spanned(file, at, events));
  }
  return items;
}

/** A fixtures item: its own source, its classes those of its spans. */
function spanned(file: string, at: (file: string) => string, events: LabelledEvent[]): EvalItem {
  return { file, path: at(file), source: file, classes: unique(events.map((e) => e.cls)), events };
}

function labelledEvent(raw: unknown, where: string): LabelledEvent {
  if (!isRecord(raw)) throw new EvalLabelsError(`${where}: expected an object`);
  return span(canonical(raw.class, `${where}.class`), raw.start, raw.end, where);
}

function span(cls: CanonicalClass, start: unknown, end: unknown, where: string): LabelledEvent {
  if (typeof start !== 'number' || !Number.isFinite(start) || start < 0) {
    throw new EvalLabelsError(
      `${where}.start: expected seconds >= 0, got ${JSON.stringify(start)}`,
    );
  }
  if (typeof end !== 'number' || !Number.isFinite(end) || end < start) {
    throw new EvalLabelsError(
      `${where}.end: expected seconds >= start, got ${JSON.stringify(end)}`,
    );
  }
  return { cls, start, end };
}

function classList(raw: unknown, where: string): CanonicalClass[] {
  return unique(list(raw, where).map((c, k) => canonical(c, `${where}[${k}]`)));
}

function canonical(raw: unknown, where: string): CanonicalClass {
  if (typeof raw !== 'string' || !KNOWN.includes(raw)) {
    throw new EvalLabelsError(
      `${where}: unknown class ${JSON.stringify(raw)} (known: ${KNOWN.join(', ')})`,
    );
  }
  return raw as CanonicalClass;
}

function entries(raw: unknown, where: string): [string, unknown][] {
  if (raw === undefined) return [];
  if (!isRecord(raw)) throw new EvalLabelsError(`${where}: expected an object keyed by file`);
  return Object.entries(raw);
}

function list(raw: unknown, where: string): unknown[] {
  if (!Array.isArray(raw)) throw new EvalLabelsError(`${where}: expected a list`);
  return raw;
}

function text(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new EvalLabelsError(`${where}: expected a non-empty string`);
  }
  return raw;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
