import type { CanonicalClass, DetectionSet, Modality, SecurityEvent } from '@app/contracts';
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

/** The versions that told an operator something: openings and escalations. */
const notified = (events: SecurityEvent[]) =>
  events.filter((e) => e.state === 'opened' || e.state === 'escalated');

describe('FusionEngine with the shipped rules', () => {
  it('turns a glass break with a person in view into one intrusion, not a second glass-break alert', () => {
    const engine = new FusionEngine(defaultRuleSet());
    const events = run(
      engine,
      10,
      (t) => (t >= 4 && t <= 4.75 ? 'glass_break' : undefined),
      () => 'person',
    );
    expect(events.map((e) => [e.state, e.version])).toEqual([
      ['opened', 1],
      ['closed', 2],
    ]);
    expect(events[0]).toMatchObject({
      rule: 'intrusion',
      severity: 'high',
      trigger: 'glass_break',
      triggers: ['glass_break'],
      startSec: 4,
    });
    expect(events[0].evidence.map((e) => e.cls)).toEqual(['glass_break', 'person']);
    // Closed at the end of the stream, with the span the glass was heard over.
    expect(events[1]).toMatchObject({
      incidentId: events[0].incidentId,
      startSec: 4,
      endSec: 5.25,
    });
    expect(events[1].id).not.toBe(events[0].id);
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
    expect(notified(empty).map((e) => e.rule)).toEqual(['unattended_alarm']);

    const attended = run(
      new FusionEngine(defaultRuleSet()),
      10,
      (t) => (t > 2 && t < 7.5 ? 'alarm' : undefined),
      () => 'person',
    );
    expect(notified(attended).map((e) => e.rule)).toEqual(['alarm']);

    const audioOnly = new FusionEngine(defaultRuleSet());
    const events = [
      ...audioOnly.ingest(audio(3, 'alarm')),
      ...audioOnly.ingest(final('video')), // a stream without video: nobody can be said to be absent
      ...audioOnly.ingest(final('audio')),
    ];
    expect(notified(events).map((e) => e.rule)).toEqual(['alarm']);
  });

  it('does not let a single-frame blip confirm a person', () => {
    const events = run(
      new FusionEngine(defaultRuleSet()),
      10,
      (t) => (t === 4 ? 'glass_break' : undefined),
      (t) => (Math.abs(t - 6) < 0.1 ? 'person' : undefined),
    );
    expect(notified(events).map((e) => e.rule)).toEqual(['glass_break']);
  });

  it('keeps one incident while shots go on, closes it after the quiet period, then opens a new one', () => {
    const engine = new FusionEngine(defaultRuleSet());
    const shots = [2, 5, 9, 30];
    const events = shots.flatMap((t) => [
      ...engine.ingest(audio(t, 'gunshot')),
      ...engine.ingest(audio(t + 1)),
    ]);
    // gunshot's quietSec is 10: nothing between 9.5 and 30, so the first incident closed at 19.5.
    expect(events.map((e) => [e.state, e.startSec, e.endSec])).toEqual([
      ['opened', 2, 2.5],
      ['closed', 2, 9.5],
      ['opened', 30, 30.5],
    ]);
    expect(events[0].severity).toBe('critical');
    expect(events[2].incidentId).not.toBe(events[0].incidentId);
  });

  it('escalates one incident when a higher-ranked rule fires, naming both triggers', () => {
    // A scream with nobody in view opens a medium incident; a glass break once a person is in
    // view makes it an intrusion at high severity: one incident, told twice.
    const events = run(
      new FusionEngine(defaultRuleSet()),
      12,
      (t) => (t === 1 ? 'scream' : t === 8 ? 'glass_break' : undefined),
      (t) => (t >= 6.5 ? 'person' : undefined),
    );
    expect(events.map((e) => [e.state, e.rule, e.severity, e.trigger, e.version])).toEqual([
      ['opened', 'scream', 'medium', 'scream', 1],
      ['escalated', 'intrusion', 'high', 'glass_break', 2],
      ['closed', 'intrusion', 'high', 'glass_break', 3],
    ]);
    expect(new Set(events.map((e) => e.incidentId)).size).toBe(1);
    expect(events[1]).toMatchObject({
      title: 'Intrusion: glass break with a person in view',
      triggers: ['scream', 'glass_break'],
      startSec: 1,
    });
    // The version's own trigger and its confirmation come first, then the earlier evidence.
    expect(events[1].evidence.map((e) => e.cls)).toEqual(['glass_break', 'person', 'scream']);
  });

  it('never lets one trigger swallow another: a new class joins the open incident', () => {
    // A weak glass break at 1 s opens an intrusion; the scream at 5 s joins it, listed as a
    // trigger; the glass again at 8 s is the same incident going on.
    const events = run(
      new FusionEngine(defaultRuleSet()),
      12,
      (t) => (t === 1 ? 'glass_break' : t === 5 ? 'scream' : t === 8 ? 'glass_break' : undefined),
      () => 'person',
    );
    expect(events.map((e) => [e.state, e.rule, e.trigger, e.triggers])).toEqual([
      ['opened', 'intrusion', 'glass_break', ['glass_break']],
      ['updated', 'intrusion', 'scream', ['glass_break', 'scream']],
      ['closed', 'intrusion', 'scream', ['glass_break', 'scream']],
    ]);
  });

  it('merges a continuing sound into one episode', () => {
    const events = run(
      new FusionEngine(defaultRuleSet()),
      20,
      (t) => (t >= 1 && t <= 15 ? 'siren' : undefined),
      () => undefined,
    );
    expect(events.map((e) => e.state)).toEqual(['opened', 'closed']);
    expect(events[0]).toMatchObject({ rule: 'siren', severity: 'medium', startSec: 1 });
    expect(events[1]).toMatchObject({ startSec: 1, endSec: 15.5 });
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
    expect(notified(late).map((e) => e.rule)).toEqual(['glass_break']);
  });

  it('bounds what it holds when a modality stops arriving altogether', () => {
    const engine = new FusionEngine(defaultRuleSet(), { maxPending: 3 });
    engine.ingest(frame(0));
    const events = [];
    for (const t of [10, 20, 30, 40, 50]) {
      const both = audio(t, 'gunshot');
      both.detections.push({ ...both.detections[0]!, cls: 'scream', labels: ['scream'] });
      events.push(...engine.ingest(both));
    }
    // Screams wait for the camera, the gunshots behind them too (time order); past 3 held, the
    // oldest are forced out, so both get decided without any video.
    expect(events[0]).toMatchObject({ state: 'opened', rule: 'gunshot', startSec: 10 });
    expect(events.some((e) => e.triggers.includes('scream'))).toBe(true);
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
        .map(
          (e) =>
            `${e.incidentId}/${e.version} ${e.state} ${e.rule}@${e.startSec}-${e.endSec}:${e.id}`,
        );
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0].length).toBeGreaterThan(0);
  });
});

describe('FusionEngine checkpoints', () => {
  /** A scream opens an incident, a glass break with a person escalates it; audio and video interleaved. */
  function scenario(): DetectionSet[] {
    const sets: DetectionSet[] = [];
    for (let a = 0.5, v = 0; a <= 14 || v <= 14;) {
      if (a <= v) {
        sets.push(audio(a, a === 1 ? 'scream' : a >= 8 && a <= 9 ? 'glass_break' : undefined));
        a += 0.25;
      } else {
        sets.push(frame(v, v >= 6.5 ? 'person' : undefined));
        v += 0.2;
      }
    }
    return [...sets, final('audio'), final('video')];
  }

  it('takes a set it already has (a replay) as nothing new', () => {
    const engine = new FusionEngine(defaultRuleSet());
    const sets = scenario();
    const once = sets.flatMap((s) => engine.ingest(s));
    const again = new FusionEngine(defaultRuleSet());
    const replayed = [...sets.slice(0, 40), ...sets.slice(20)].flatMap((s) => again.ingest(s));
    expect(replayed.map((e) => e.id)).toEqual(once.map((e) => e.id));
  });

  it('restored from a JSON snapshot mid-incident, decides the rest as if it had never stopped', () => {
    const sets = scenario();
    const whole = new FusionEngine(defaultRuleSet());
    const expected = sets.flatMap((s) => whole.ingest(s));
    expect(expected.map((e) => e.state)).toEqual(['opened', 'escalated', 'closed']);

    for (const cut of [10, 45, 60, 80]) {
      const first = new FusionEngine(defaultRuleSet());
      const before = sets.slice(0, cut).flatMap((s) => first.ingest(s));
      const snapshot = JSON.parse(JSON.stringify(first.snapshot(STREAM)));
      const second = new FusionEngine(defaultRuleSet());
      second.restore(STREAM, snapshot);
      // The restarted replica reads again from an offset before the snapshot.
      const after = sets.slice(Math.max(0, cut - 15)).flatMap((s) => second.ingest(s));
      expect({ cut, ids: [...before, ...after].map((e) => e.id) }).toEqual({
        cut,
        ids: expected.map((e) => e.id),
      });
    }
  });
});
