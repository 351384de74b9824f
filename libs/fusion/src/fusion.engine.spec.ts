import type { CanonicalClass, DetectionSet, Modality } from '@app/contracts';
import { FusionEngine } from './fusion.engine';
import { defaultRuleSet } from './rules.loader';

const STREAM = 'cam-1';

function audio(atSec: number, cls?: CanonicalClass, score = 0.6): DetectionSet {
  return {
    streamId: STREAM,
    modality: 'audio',
    seq: Math.round(atSec * 4),
    startSec: atSec - 0.5,
    endSec: atSec + 0.5,
    atSec,
    model: 'efficientat-mn04',
    detections: cls ? [{ modality: 'audio', cls, score, labels: [cls] }] : [],
  };
}

function frame(atSec: number, cls?: CanonicalClass, score = 0.8): DetectionSet {
  return {
    streamId: STREAM,
    modality: 'video',
    seq: Math.round(atSec * 5),
    startSec: atSec,
    endSec: atSec + 0.2,
    atSec,
    model: 'yolox-nano',
    detections: cls
      ? [{ modality: 'video', cls, score, labels: [cls], box: [10, 20, 110, 220] }]
      : [],
  };
}

function final(modality: Modality): DetectionSet {
  return { ...audio(0), modality, detections: [], final: true };
}

/** Interleaves audio every 0.25 s and video every 0.2 s up to `untilSec`, like the pipeline. */
function run(
  engine: FusionEngine,
  untilSec: number,
  audioAt: (t: number) => CanonicalClass | undefined,
  videoAt: (t: number) => CanonicalClass | undefined,
) {
  const events = [];
  let a = 0.5;
  let v = 0;
  while (a <= untilSec || v <= untilSec) {
    if (a <= v && a <= untilSec) {
      events.push(...engine.ingest(audio(a, audioAt(a))));
      a += 0.25;
    } else {
      events.push(...engine.ingest(frame(v, videoAt(v))));
      v += 0.2;
    }
  }
  events.push(...engine.ingest(final('audio')), ...engine.ingest(final('video')));
  return events;
}

describe('FusionEngine with the shipped rules', () => {
  it('turns a glass break with a person in view into one intrusion, not a second glass-break alert', () => {
    const engine = new FusionEngine(defaultRuleSet());
    const events = run(
      engine,
      10,
      (t) => (t >= 4 && t <= 4.75 ? 'glass_break' : undefined),
      () => 'person',
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      rule: 'intrusion',
      severity: 'high',
      trigger: 'glass_break',
      startSec: 4,
    });
    expect(events[0].evidence.map((e) => e.cls)).toEqual(['glass_break', 'person']);
    expect(engine.isOpen(STREAM)).toBe(false);
  });

  it('waits for the camera before deciding, then falls back to a plain glass break', () => {
    const engine = new FusionEngine(defaultRuleSet());
    const early = engine.ingest(audio(4, 'glass_break'));
    expect(early).toEqual([]); // no video yet: the intrusion rule cannot be decided
    let events = engine.ingest(frame(8.7));
    expect(events).toEqual([]);
    events = engine.ingest(frame(8.9)); // coverage passes 4 + 5 s with nobody seen
    expect(events.map((e) => e.rule)).toEqual(['glass_break']);
  });

  it('fires an unattended alarm only when the camera watched and saw nobody', () => {
    const empty = run(
      new FusionEngine(defaultRuleSet()),
      10,
      (t) => (t > 2 && t < 7.5 ? 'alarm' : undefined),
      () => undefined,
    );
    expect(empty.map((e) => e.rule)).toEqual(['unattended_alarm']);

    const attended = run(
      new FusionEngine(defaultRuleSet()),
      10,
      (t) => (t > 2 && t < 7.5 ? 'alarm' : undefined),
      () => 'person',
    );
    expect(attended.map((e) => e.rule)).toEqual(['alarm']);

    const audioOnly = new FusionEngine(defaultRuleSet());
    const events = [
      ...audioOnly.ingest(audio(3, 'alarm')),
      ...audioOnly.ingest(final('video')), // a stream without video: nobody can be said to be absent
      ...audioOnly.ingest(final('audio')),
    ];
    expect(events.map((e) => e.rule)).toEqual(['alarm']);
  });

  it('does not let a single-frame blip confirm a person', () => {
    const events = run(
      new FusionEngine(defaultRuleSet()),
      10,
      (t) => (t === 4 ? 'glass_break' : undefined),
      (t) => (Math.abs(t - 6) < 0.1 ? 'person' : undefined),
    );
    expect(events.map((e) => e.rule)).toEqual(['glass_break']);
  });

  it('alerts once per cooldown, and again for a new incident after it', () => {
    const engine = new FusionEngine(defaultRuleSet());
    const shots = [2, 5, 9, 30];
    const events = shots.flatMap((t) => [
      ...engine.ingest(audio(t, 'gunshot')),
      ...engine.ingest(audio(t + 1)),
    ]);
    expect(events.map((e) => e.startSec)).toEqual([2, 30]);
    expect(events[0].severity).toBe('critical');
  });

  it('never lets the cooldown of one trigger class swallow another class firing the same rule', () => {
    // A weak glass break at 1 s fires intrusion; the scream at 5 s is a second alert, not muted.
    const events = run(
      new FusionEngine(defaultRuleSet()),
      12,
      (t) => (t === 1 ? 'glass_break' : t === 5 ? 'scream' : t === 8 ? 'glass_break' : undefined),
      () => 'person',
    );
    expect(events.map((e) => [e.rule, e.trigger, e.startSec])).toEqual([
      ['intrusion', 'glass_break', 1],
      ['intrusion', 'scream', 5],
    ]);
  });

  it('merges a continuing sound into one episode', () => {
    const events = run(
      new FusionEngine(defaultRuleSet()),
      20,
      (t) => (t >= 1 && t <= 15 ? 'siren' : undefined),
      () => undefined,
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ rule: 'siren', severity: 'medium', startSec: 1 });
  });

  it('gives the same events the same ids on a replay', () => {
    const scenario = () =>
      run(
        new FusionEngine(defaultRuleSet()),
        10,
        (t) => (t === 3 ? 'scream' : t === 6 ? 'dog_bark' : undefined),
        () => 'person',
      );
    const first = scenario();
    const second = scenario();
    expect(first.map((e) => e.id)).toEqual(second.map((e) => e.id));
    expect(new Set(first.map((e) => e.id)).size).toBe(first.length);
    expect(first[0].id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('holds a decision however far the camera lags, and decides when it catches up', () => {
    const engine = new FusionEngine(defaultRuleSet());
    engine.ingest(frame(0));
    const early = [engine.ingest(audio(2, 'glass_break'))];
    for (let t = 3; t <= 60; t++) early.push(engine.ingest(audio(t)));
    expect(early.flat()).toEqual([]);
    const late = [];
    for (let t = 0.2; t <= 7.2; t += 0.2) late.push(...engine.ingest(frame(t)));
    expect(late.map((e) => e.rule)).toEqual(['glass_break']);
  });

  it('bounds what it holds when a modality stops arriving altogether', () => {
    const engine = new FusionEngine(defaultRuleSet(), { maxPending: 3 });
    engine.ingest(frame(0));
    const events = [];
    for (const t of [10, 20, 30, 40, 50])
      events.push(...engine.ingest(audio(t, 'gunshot')), ...engine.ingest(audio(t, 'scream')));
    // Gunshots need no camera; screams wait for it, and the oldest are forced out past 3.
    expect(events.filter((e) => e.rule === 'scream').length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.rule === 'gunshot')).toHaveLength(5);
  });

  it('decides the same whatever the interleaving of audio and video', () => {
    const audioSets: DetectionSet[] = [];
    const videoSets: DetectionSet[] = [];
    for (let t = 0.5; t <= 10; t += 0.25)
      audioSets.push(audio(t, t > 2 && t < 7.5 ? 'alarm' : t === 8 ? 'glass_break' : undefined));
    for (let t = 0; t <= 10; t += 0.2) videoSets.push(frame(t, t > 6 ? 'person' : undefined));
    const orders = [
      [...audioSets, final('audio'), ...videoSets, final('video')],
      [...videoSets, final('video'), ...audioSets, final('audio')],
      audioSets
        .flatMap((a, i) => [a, ...(videoSets[i] ? [videoSets[i]] : [])])
        .concat(videoSets.slice(audioSets.length), [final('audio'), final('video')]),
    ];
    const results = orders.map((sets) => {
      const engine = new FusionEngine(defaultRuleSet());
      return sets
        .flatMap((s) => engine.ingest(s))
        .map((e) => `${e.rule}@${e.startSec}:${e.id}`)
        .sort();
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0].length).toBeGreaterThan(0);
  });
});
