import {
  type CanonicalClass,
  type DetectionSet,
  type Modality,
  type SecurityEvent,
  SiteDirectory,
  isNotification,
} from '@app/contracts';
import { FusionEngine } from './fusion.engine';
import { defaultRuleSet } from './rules.loader';
import { parseRuleSet } from './rules.schema';
import { SiteEngine } from './site.engine';
import { triggerMomentId } from './event-id';

const SITES = new SiteDirectory([
  {
    id: 'hq',
    zones: [
      { id: 'lobby', streams: ['cam-a', 'cam-b'] },
      { id: 'yard', streams: ['cam-c'] },
    ],
    streams: [],
  },
]);

function audio(streamId: string, atSec: number, cls?: CanonicalClass): DetectionSet {
  return {
    streamId,
    modality: 'audio',
    seq: Math.round(atSec * 4),
    startSec: atSec - 0.5,
    endSec: atSec + 0.5,
    atSec,
    model: 'efficientat-mn04',
    detections: cls ? [{ modality: 'audio', cls, score: 0.7, labels: [cls] }] : [],
  };
}

function frame(streamId: string, atSec: number, cls?: CanonicalClass): DetectionSet {
  return {
    streamId,
    modality: 'video',
    seq: Math.round(atSec * 5),
    startSec: atSec,
    endSec: atSec + 0.2,
    atSec,
    model: 'yolox-nano',
    detections: cls
      ? [{ modality: 'video', cls, score: 0.8, labels: [cls], box: [1, 2, 3, 4] }]
      : [],
  };
}

function final(streamId: string, modality: Modality): DetectionSet {
  return { ...audio(streamId, 0), modality, detections: [], final: true };
}

type Script = Record<
  string,
  {
    audio?: (t: number) => CanonicalClass | undefined;
    video?: (t: number) => CanonicalClass | undefined;
  }
>;

/**
 * Each camera's sets in its own time order (audio every 0.25 s, video every 0.2 s), the
 * cameras interleaved by `order`: the stage's path, the camera's engine first, then the site's.
 */
function run(
  script: Script,
  untilSec: number,
  order: 'by-time' | 'camera-bursts',
  site = new SiteEngine(defaultRuleSet()),
) {
  const cameras = new FusionEngine(defaultRuleSet());
  const perCamera = Object.entries(script).map(([streamId, s]) => {
    const sets: DetectionSet[] = [];
    let a = 0.5;
    let v = 0;
    while (a <= untilSec || v <= untilSec) {
      if (a <= v && a <= untilSec) {
        sets.push(audio(streamId, a, s.audio?.(a)));
        a += 0.25;
      } else {
        sets.push(frame(streamId, v, s.video?.(v)));
        v += 0.2;
      }
    }
    sets.push(final(streamId, 'audio'), final(streamId, 'video'));
    return sets;
  });
  const merged: DetectionSet[] = [];
  if (order === 'by-time') {
    const at = (set: DetectionSet) => (set.final ? Infinity : set.atSec);
    const queues = perCamera.map((sets) => [...sets]);
    while (queues.some((q) => q.length > 0)) {
      const next = queues.filter((q) => q.length > 0).sort((x, y) => at(x[0]) - at(y[0]))[0];
      merged.push(next.shift()!);
    }
  } else {
    // Bursts of 7 sets per camera in turn: cameras run ahead of each other by seconds.
    const queues = perCamera.map((sets) => [...sets]);
    while (queues.some((q) => q.length > 0)) {
      for (const q of queues) merged.push(...q.splice(0, 7));
    }
  }
  const events: SecurityEvent[] = [];
  for (const set of merged) {
    const placement = SITES.placementOf(set.streamId)!;
    events.push(...site.ingest(placement, set, cameras.ingest(set)));
  }
  return { events, site };
}

const gunshotAt =
  (sec: number) =>
  (t: number): CanonicalClass | undefined =>
    Math.abs(t - sec) < 0.01 ? 'gunshot' : undefined;

describe('SiteEngine', () => {
  it('makes one incident of a gunshot heard by two cameras, naming both, earliest first', () => {
    const { events } = run(
      { 'cam-b': { audio: gunshotAt(4.25) }, 'cam-a': { audio: gunshotAt(4.5) } },
      8,
      'by-time',
    );
    const site = events.filter((e) => e.cameras);
    expect(site.map((e) => [e.state, e.rule, e.streamId, e.cameras, e.site])).toEqual([
      ['opened', 'site_gunshot', 'cam-b', ['cam-b', 'cam-a'], 'hq'],
      ['closed', 'site_gunshot', 'cam-b', ['cam-b', 'cam-a'], 'hq'],
    ]);
    expect(site[0]).toMatchObject({
      title: 'Gunshot heard by 2 cameras',
      severity: 'critical',
      startSec: 4.25,
      evidence: [
        { cls: 'gunshot', atSec: 4.25, streamId: 'cam-b' },
        { cls: 'gunshot', atSec: 4.5, streamId: 'cam-a' },
      ],
    });
    expect(site[0].zone).toBeUndefined();
    // Each camera's own gunshot incident is recorded, taken in by the site's: one alert in all.
    const own = events.filter((e) => !e.cameras);
    expect(own.map((e) => [e.streamId, e.state, e.absorbedBy])).toEqual(
      expect.arrayContaining([
        ['cam-b', 'opened', site[0].incidentId],
        ['cam-a', 'opened', site[0].incidentId],
      ]),
    );
    expect(own.every((e) => e.absorbedBy === site[0].incidentId)).toBe(true);
    expect(events.filter(isNotification)).toEqual([site[0]]);
    // Its trigger moment is that of the first camera's own version: an edge renders only the
    // camera's, and the site incident shows it.
    const first = own.find((e) => e.streamId === 'cam-b' && e.state === 'opened')!;
    expect(triggerMomentId(site[0])).toBe(triggerMomentId(first));
    expect(triggerMomentId(site[0])).not.toBe(
      triggerMomentId(own.find((e) => e.streamId === 'cam-a')!),
    );
  });

  it('gives the same versions and ids however the cameras interleave', () => {
    const script = { 'cam-a': { audio: gunshotAt(4.5) }, 'cam-b': { audio: gunshotAt(4.25) } };
    const ids = (events: SecurityEvent[]) =>
      events.map((e) => [e.id, e.incidentId, e.state, e.absorbedBy ?? '']).sort();
    const byTime = run(script, 8, 'by-time').events;
    const bursts = run(script, 8, 'camera-bursts').events;
    expect(ids(bursts)).toEqual(ids(byTime));
    expect(byTime.filter(isNotification)).toHaveLength(1);
  });

  it('lets a gunshot heard by one camera alone go out as that camera’s incident', () => {
    const { events, site } = run(
      { 'cam-a': { audio: gunshotAt(4.5) }, 'cam-b': {}, 'cam-c': {} },
      8,
      'by-time',
    );
    expect(events.filter((e) => e.cameras)).toEqual([]);
    expect(events.filter(isNotification).map((e) => [e.streamId, e.rule])).toEqual([
      ['cam-a', 'gunshot'],
    ]);
    expect(events.every((e) => !e.absorbedBy)).toBe(true);
    // Every camera ended: nothing of the site is kept.
    expect(site.isOpen('hq')).toBe(false);
  });

  it('does not count cameras that heard it later than withinSec', () => {
    const { events } = run(
      { 'cam-a': { audio: gunshotAt(4.5) }, 'cam-b': { audio: gunshotAt(6) } },
      9,
      'by-time',
    );
    expect(events.filter((e) => e.cameras)).toEqual([]);
    expect(
      events
        .filter(isNotification)
        .map((e) => e.streamId)
        .sort(),
    ).toEqual(['cam-a', 'cam-b']);
  });

  it('raises a zone incident for glass break on one camera and a person on another', () => {
    const { events } = run(
      {
        'cam-a': { audio: (t) => (t === 3 ? 'glass_break' : undefined) },
        'cam-b': { video: (t) => (t > 6 && t < 7 ? 'person' : undefined) },
      },
      16,
      'by-time',
    );
    const zone = events.filter((e) => e.cameras);
    expect(zone[0]).toMatchObject({
      state: 'opened',
      rule: 'zone_intrusion',
      site: 'hq',
      zone: 'lobby',
      streamId: 'cam-a',
      cameras: ['cam-a', 'cam-b'],
      startSec: 3,
    });
    expect(zone[0].evidence.map((e) => [e.cls, e.streamId])).toEqual([
      ['glass_break', 'cam-a'],
      ['person', 'cam-b'],
    ]);
    // The moment of the glass break on cam-a, whose own glass_break incident it also opened.
    const glass = events.find(
      (e) => !e.cameras && e.streamId === 'cam-a' && e.rule === 'glass_break',
    );
    expect(glass).toBeDefined();
    expect(triggerMomentId(zone[0])).toBe(triggerMomentId(glass!));
  });

  it('does not look for the person in another zone', () => {
    const { events } = run(
      {
        'cam-a': { audio: (t) => (t === 3 ? 'glass_break' : undefined) },
        'cam-c': { video: (t) => (t > 4 && t < 5 ? 'person' : undefined) },
      },
      16,
      'by-time',
    );
    expect(events.filter((e) => e.cameras)).toEqual([]);
    expect(events.filter(isNotification).map((e) => [e.streamId, e.rule])).toEqual([
      ['cam-a', 'glass_break'],
    ]);
  });

  it('takes a site up where a snapshot left it, with the same versions', () => {
    const script = { 'cam-a': { audio: gunshotAt(4.5) }, 'cam-b': { audio: gunshotAt(4.75) } };
    const whole = run(script, 8, 'by-time').events;
    const sets: DetectionSet[] = [];
    for (let t = 0.5; t <= 8; t += 0.25) {
      sets.push(audio('cam-a', t, gunshotAt(4.5)(t)), audio('cam-b', t, gunshotAt(4.75)(t)));
      sets.push(frame('cam-a', t), frame('cam-b', t));
    }
    for (const id of ['cam-a', 'cam-b']) sets.push(final(id, 'audio'), final(id, 'video'));
    const versions = (list: SecurityEvent[]) =>
      list.map((e) => `${e.id} ${e.state} ${e.absorbedBy ?? ''}`).sort();

    // Cut at every set: the site's state and its cameras' (what a checkpoint holds) carried
    // over into fresh engines, as a fusion replica taking the site over does.
    let cutWhileHeld = 0;
    for (let cut = 1; cut < sets.length; cut++) {
      let cameras = new FusionEngine(defaultRuleSet());
      let site = new SiteEngine(defaultRuleSet());
      const events: SecurityEvent[] = [];
      for (const [i, set] of sets.entries()) {
        if (i === cut) {
          const siteState = JSON.parse(JSON.stringify(site.snapshot('hq') ?? null));
          if (JSON.stringify(siteState).includes('"held":[{')) cutWhileHeld++;
          const camerasState = ['cam-a', 'cam-b'].map((id) => [id, cameras.snapshot(id)] as const);
          cameras = new FusionEngine(defaultRuleSet());
          site = new SiteEngine(defaultRuleSet());
          if (siteState) site.restore('hq', siteState);
          for (const [id, state] of camerasState) {
            if (state) cameras.restore(id, JSON.parse(JSON.stringify(state)));
          }
        }
        events.push(...site.ingest(SITES.placementOf(set.streamId)!, set, cameras.ingest(set)));
      }
      expect({ cut, versions: versions(events) }).toEqual({ cut, versions: versions(whole) });
    }
    // Some cuts fell while the cameras' incidents waited for the site's decision.
    expect(cutWhileHeld).toBeGreaterThan(0);
    expect(whole.filter(isNotification)).toHaveLength(1);
  });

  it('puts a live camera on its capture clock, and reports the first camera’s media time', () => {
    const site = new SiteEngine(defaultRuleSet());
    const cameras = new FusionEngine(defaultRuleSet());
    const events: SecurityEvent[] = [];
    // cam-b started 2 s after cam-a: its 2.5 s is cam-a's 4.5 s.
    const origins: Record<string, number> = { 'cam-a': 1000, 'cam-b': 1002 };
    const feed = (set: DetectionSet) =>
      events.push(
        ...site.ingest(
          SITES.placementOf(set.streamId)!,
          set,
          cameras.ingest(set),
          origins[set.streamId],
        ),
      );
    for (let t = 0.5; t <= 8; t += 0.25) {
      feed(audio('cam-a', t, gunshotAt(4.5)(t)));
      feed(audio('cam-b', t, gunshotAt(2.75)(t)));
    }
    for (const id of ['cam-a', 'cam-b']) {
      feed(final(id, 'audio'));
      feed(final(id, 'video'));
    }
    const opened = events.find((e) => e.cameras && e.state === 'opened');
    expect(opened).toMatchObject({ streamId: 'cam-a', cameras: ['cam-a', 'cam-b'], startSec: 4.5 });
    expect(opened!.evidence.map((e) => [e.streamId, e.atSec])).toEqual([
      ['cam-a', 4.5],
      ['cam-b', 2.75],
    ]);
  });

  it('waits for a camera whose next window may still peak earlier than its last', () => {
    const site = new SiteEngine(defaultRuleSet());
    const cameras = new FusionEngine(defaultRuleSet());
    const events: SecurityEvent[] = [];
    const feed = (set: DetectionSet) =>
      events.push(...site.ingest(SITES.placementOf(set.streamId)!, set, cameras.ingest(set)));
    // Overlapping windows: cam-b's window from 3 s peaks at 3.9 s, its next (from 3.25 s)
    // at 3.3 s, with the gunshot. cam-a runs far ahead meanwhile.
    const window = (streamId: string, startSec: number, atSec: number, shot = false) => ({
      ...audio(streamId, atSec, shot ? 'gunshot' : undefined),
      startSec,
      endSec: startSec + 1,
    });
    feed(window('cam-b', 3, 3.9));
    for (let t = 0.5; t <= 8; t += 0.25) feed(window('cam-a', t - 0.5, t, t === 3.5));
    feed(window('cam-b', 3.25, 3.3, true));
    for (let t = 3.5; t <= 8; t += 0.25) feed(window('cam-b', t, t + 0.5));
    for (const id of ['cam-a', 'cam-b']) {
      feed(final(id, 'audio'));
      feed(final(id, 'video'));
    }
    const opened = events.find((e) => e.cameras && e.state === 'opened');
    expect(opened).toMatchObject({ streamId: 'cam-b', cameras: ['cam-b', 'cam-a'], startSec: 3.3 });
  });

  it('waits for a configured camera that has not sent anything yet, until it is away', () => {
    const site = new SiteEngine(defaultRuleSet(), { camerasOf: (id) => SITES.camerasOf(id) });
    const cameras = new FusionEngine(defaultRuleSet());
    const events: SecurityEvent[] = [];
    const feed = (set: DetectionSet) =>
      events.push(...site.ingest(SITES.placementOf(set.streamId)!, set, cameras.ingest(set)));
    // cam-a runs 8 s ahead before cam-b sends its first set; cam-c never does.
    for (let t = 0.5; t <= 8; t += 0.25) feed(audio('cam-a', t, gunshotAt(4.5)(t)));
    for (let t = 0.5; t <= 8; t += 0.25) feed(audio('cam-b', t, gunshotAt(4.75)(t)));
    expect(events).toEqual([]);
    expect(site.missing('hq')).toEqual(['cam-c']);

    events.push(...site.away('hq', 'cam-c'));
    expect(site.missing('hq')).toEqual([]);
    const opened = events.find((e) => e.cameras && e.state === 'opened');
    expect(opened).toMatchObject({ cameras: ['cam-a', 'cam-b'], rule: 'site_gunshot' });
    expect(events.filter(isNotification)).toEqual([opened]);
  });

  it('changes nothing without site rules', () => {
    const rules = parseRuleSet({
      version: 1,
      rules: [{ id: 'gunshot', when: 'gunshot', severity: 'critical' }],
    });
    expect(new SiteEngine(rules).hasRules()).toBe(false);
  });
});
