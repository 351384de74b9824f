import { type Headers, MemoryBus } from '@app/bus';
import {
  type DetectionSet,
  type SecurityEvent,
  SiteDirectory,
  type StreamStatus,
  Topics,
  isNotification,
} from '@app/contracts';
import { defaultRuleSet, runScopedEventId } from '@app/fusion';
import { FusionStage } from './fusion.stage';
import { NO_METRICS } from './pipeline.ports';
import {
  CAPTURE_EPOCH_HEADER,
  COMMAND_HEADER,
  LABELS_HEADER,
  LIVE_FRAME_HEADER,
  REQUEST_HEADER,
  RULES_PROFILE_HEADER,
  RUN_HEADER,
} from './stream-headers';
import { SuppressionGate } from './suppression.gate';

function set(
  streamId: string,
  modality: 'audio' | 'video',
  atSec: number,
  final = false,
): DetectionSet {
  const gunshot = modality === 'audio' && atSec === 2;
  return {
    streamId,
    modality,
    seq: Math.round(atSec * 10),
    startSec: atSec,
    endSec: atSec + 0.25,
    atSec,
    model: 'm',
    detections: gunshot
      ? [{ modality, cls: 'gunshot', score: 0.9, labels: ['Gunshot, gunfire'] }]
      : [],
    ...(final ? { final: true } : {}),
  };
}

/** One stream's sets through a FusionStage; the events it publishes. */
async function fuse(
  streamId: string,
  headers: Record<string, string>,
  stageOn: (bus: MemoryBus) => FusionStage = (bus) => new FusionStage(bus, defaultRuleSet()),
) {
  const bus = new MemoryBus();
  const fusion = stageOn(bus);
  const events: SecurityEvent[] = [];
  await bus.subscribe(Topics.events, 'test', async ({ value }) => void events.push(value));
  await fusion.start();
  for (let t = 0; t <= 6; t += 0.25) {
    await bus.publish(Topics.detections, streamId, set(streamId, 'audio', t), headers);
    await bus.publish(Topics.detections, streamId, set(streamId, 'video', t), headers);
  }
  await bus.publish(Topics.detections, streamId, set(streamId, 'audio', 0, true), headers);
  await bus.publish(Topics.detections, streamId, set(streamId, 'video', 0, true), headers);
  await fusion.whenClosed(streamId);
  await bus.idle();
  await fusion.stop();
  await bus.close();
  return events;
}

describe('FusionStage', () => {
  it('scopes the event ids of a live run to it, and keeps a file run’s ids as they are', async () => {
    const [plain] = await fuse('cam', {});
    const [first] = await fuse('cam', { [RUN_HEADER]: '1764300000000' });
    const [again] = await fuse('cam', { [RUN_HEADER]: '1764300000000' });
    const [restarted] = await fuse('cam', { [RUN_HEADER]: '1764300999000' });
    expect(plain!.rule).toBe('gunshot');
    expect(first!.id).toBe(runScopedEventId(plain!.id, '1764300000000'));
    expect(again!.id).toBe(first!.id); // a replay of the same run
    expect(restarted!.id).not.toBe(first!.id); // a new run: a new incident, not a replay
    expect(restarted!.incidentId).not.toBe(first!.incidentId);
    expect({ ...first, id: plain!.id, incidentId: plain!.incidentId }).toEqual(plain);
  });

  it('times a live alert from the capture of its trigger, and only alerts (not updates or closing)', async () => {
    const metrics = { ...NO_METRICS, incidentLatency: jest.fn() };
    const epoch = 1_764_300_000_000;
    const events = await fuse(
      'cam-l',
      { [RUN_HEADER]: String(epoch), [CAPTURE_EPOCH_HEADER]: String(epoch) },
      // The gunshot at 2 s of the stream is decided 2.6 s after the run's media time 0.
      (bus) =>
        new FusionStage(bus, defaultRuleSet(), { metrics, clock: { now: () => epoch + 2600 } }),
    );
    expect(events.map((e) => e.state)).toEqual(['opened', 'closed']);
    expect(metrics.incidentLatency).toHaveBeenCalledTimes(1);
    expect(metrics.incidentLatency.mock.calls[0][0]).toBe(events[0]!.severity);
    expect(metrics.incidentLatency.mock.calls[0][1]).toBeCloseTo(0.6, 6);
    // A file run carries no capture clock: nothing to time.
    const file = { ...NO_METRICS, incidentLatency: jest.fn() };
    await fuse('cam-f', {}, (bus) => new FusionStage(bus, defaultRuleSet(), { metrics: file }));
    expect(file.incidentLatency).not.toHaveBeenCalled();
  });

  it('decides each stream with the rules profile its messages name', async () => {
    const quiet = {
      ...defaultRuleSet(),
      rules: defaultRuleSet().rules.filter((r) => r.id !== 'gunshot'),
    };
    const withProfiles = (bus: MemoryBus) =>
      new FusionStage(bus, defaultRuleSet(), { profiles: { quiet } });
    expect(withProfiles(new MemoryBus()).profiles()).toEqual(['default', 'quiet']);
    expect(await fuse('cam-q', { [RULES_PROFILE_HEADER]: 'quiet' }, withProfiles)).toEqual([]);
    const [loud] = await fuse('cam-q', {}, withProfiles);
    expect(loud!.rule).toBe('gunshot');
  });

  it('ignores a class an operator suppressed on that stream, until it expires', async () => {
    let now = 1_000;
    const gate = new SuppressionGate(() => now);
    const withGate = (bus: MemoryBus) =>
      new FusionStage(bus, defaultRuleSet(), { suppressions: gate });
    gate.replace([{ streamId: 'cam-s', cls: 'gunshot', until: 2_000 }]);
    expect(await fuse('cam-s', {}, withGate)).toEqual([]);
    const [other] = await fuse('cam-t', {}, withGate); // another stream is not affected
    expect(other!.rule).toBe('gunshot');
    now = 2_000; // expired
    const [again] = await fuse('cam-s', {}, withGate);
    expect(again!.rule).toBe('gunshot');
  });
});

describe('FusionStage with sites', () => {
  const sites = new SiteDirectory([
    { id: 'hq', zones: [], streams: ['cam-a', 'cam-b', 'cam-down'] },
  ]);
  /** Two live cameras of the site (each its own run and capture clock); cam-down never runs. */
  async function twoCameras(bus: MemoryBus) {
    const headers = (camera: string, epochMs: number) => ({
      [RUN_HEADER]: String(epochMs),
      [CAPTURE_EPOCH_HEADER]: String(epochMs),
      [LABELS_HEADER]: JSON.stringify({ camera }),
    });
    // cam-b started 0.5 s after cam-a: both hear the gunshot at their own 2 s, 0.5 s apart.
    const a = headers('A', 1_764_300_000_000);
    const b = headers('B', 1_764_300_000_500);
    for (let t = 0; t <= 6; t += 0.25) {
      await bus.publish(Topics.detections, 'site/hq', set('cam-a', 'audio', t), a);
      await bus.publish(Topics.detections, 'site/hq', set('cam-b', 'audio', t), b);
    }
    for (const [id, h] of [
      ['cam-a', a],
      ['cam-b', b],
    ] as const) {
      for (const modality of ['audio', 'video'] as const) {
        await bus.publish(Topics.detections, 'site/hq', set(id, modality, 0, true), h);
      }
    }
    await bus.idle();
    return { a, b };
  }

  it('makes one incident of two live cameras, each camera’s own absorbed, run and headers its own', async () => {
    const bus = new MemoryBus();
    const fusion = new FusionStage(bus, defaultRuleSet(), { sites });
    const events: { event: SecurityEvent; headers: Record<string, string> }[] = [];
    await bus.subscribe(Topics.events, 'test', async ({ value, headers }) => {
      events.push({ event: value, headers });
    });
    await fusion.start();
    const { a, b } = await twoCameras(bus);
    // cam-down sent nothing, but every camera that did ended: nothing more can come.
    const decided = events.map((e) => e.event);
    expect(decided.filter((e) => e.cameras).map((e) => [e.state, e.cameras])).toEqual([
      ['opened', ['cam-a', 'cam-b']],
      ['closed', ['cam-a', 'cam-b']],
    ]);
    const site = decided.find((e) => e.cameras)!;
    // Site time is the capture clock: cam-b's 2 s is 0.5 s after cam-a's.
    expect(site.evidence.map((e) => [e.streamId, e.atSec])).toEqual([
      ['cam-a', 2],
      ['cam-b', 2],
    ]);
    // The site incident is not run-scoped; the cameras' own are, each with its own run, and
    // each goes out with its own camera's headers though the other camera's set released it.
    const own = events.filter((e) => !e.event.cameras);
    expect(own.map((e) => [e.event.streamId, e.event.state, e.event.absorbedBy])).toEqual(
      expect.arrayContaining([
        ['cam-a', 'opened', site.incidentId],
        ['cam-b', 'opened', site.incidentId],
      ]),
    );
    for (const { event, headers } of own) {
      expect(headers).toEqual(event.streamId === 'cam-a' ? a : b);
      expect(event.site).toBe('hq');
    }
    expect(decided.filter(isNotification)).toEqual([site]);
    await fusion.stop();
    await bus.close();
  });

  it('decides without a camera that is down once siteJoinMs passed', async () => {
    const bus = new MemoryBus();
    let now = 1_000_000;
    const fusion = new FusionStage(bus, defaultRuleSet(), {
      sites,
      siteJoinMs: 10_000,
      clock: { now: () => now },
    });
    const events: SecurityEvent[] = [];
    await bus.subscribe(Topics.events, 'test', async ({ value }) => void events.push(value));
    await fusion.start();
    for (let t = 0; t <= 6; t += 0.25) {
      await bus.publish(Topics.detections, 'site/hq', set('cam-a', 'audio', t));
      await bus.publish(Topics.detections, 'site/hq', set('cam-b', 'audio', t));
    }
    await bus.idle();
    await fusion.checkSites();
    expect(events).toEqual([]); // cam-down may still come
    now += 9_000;
    await fusion.checkSites();
    expect(events).toEqual([]);
    now += 1_000;
    await fusion.checkSites();
    await bus.idle();
    expect(events.filter(isNotification).map((e) => [e.rule, e.cameras])).toEqual([
      ['site_gunshot', ['cam-a', 'cam-b']],
    ]);
    await fusion.stop();
    await bus.close();
  });
});

describe('FusionStage when a stream’s media stop without an end of stream', () => {
  function alarm(streamId: string, modality: 'audio' | 'video', atSec: number): DetectionSet {
    const ringing = modality === 'audio' && atSec >= 1;
    return {
      ...set(streamId, modality, atSec),
      detections: ringing ? [{ modality, cls: 'alarm', score: 0.9, labels: ['Smoke alarm'] }] : [],
    };
  }

  it('reports it stalled, then decides it as ended: the absence rule fires and the incident closes', async () => {
    const bus = new MemoryBus();
    let now = 1_000_000;
    const fusion = new FusionStage(bus, defaultRuleSet(), {
      idle: { stalledSec: 5, endedSec: 20 },
      clock: { now: () => now },
    });
    const events: SecurityEvent[] = [];
    const statuses: StreamStatus[] = [];
    await bus.subscribe(Topics.events, 'test', async ({ value }) => void events.push(value));
    await bus.subscribe(
      Topics.streamStatus,
      'test',
      async ({ value }) => void statuses.push(value),
    );
    await fusion.start();
    // The camera watched an empty room for 3 s, the alarm rang from 1 s, then everything stopped.
    for (let t = 0; t <= 3; t += 0.25) {
      await bus.publish(Topics.detections, 'cam', alarm('cam', 'audio', t));
      await bus.publish(Topics.detections, 'cam', alarm('cam', 'video', t));
    }
    await bus.idle();
    expect(events).toEqual([]); // "nobody within 5 s" cannot be decided: the camera stopped at 3 s

    now += 4_000;
    await fusion.checkIdle();
    now += 2_000;
    await fusion.checkIdle();
    await bus.idle();
    expect(statuses.map((s) => [s.state, s.reason])).toEqual([
      ['stalled', 'no detections for 5 s'],
    ]);
    expect(events).toEqual([]);

    now += 15_000;
    await fusion.checkIdle();
    await bus.idle();
    expect(events.map((e) => [e.rule, e.state])).toEqual([
      ['unattended_alarm', 'opened'],
      ['unattended_alarm', 'closed'],
    ]);
    expect(statuses.map((s) => s.state)).toEqual(['stalled', 'ended']);
    expect(statuses[1]!.reason).toBe('no detections for 20 s: decided as ended');
    await expect(fusion.whenClosed('cam')).resolves.toBeUndefined();
    await fusion.stop();
    await bus.close();
  });

  it("names the run in its verdicts, as ingest's statuses do (the compacted topic may keep only them)", async () => {
    const bus = new MemoryBus();
    let now = 0;
    const fusion = new FusionStage(bus, defaultRuleSet(), {
      idle: { stalledSec: 5, endedSec: 20 },
      clock: { now: () => now },
    });
    const statuses: Headers[] = [];
    await bus.subscribe(
      Topics.streamStatus,
      'test',
      async ({ headers }) => void statuses.push(headers),
    );
    await fusion.start();
    const run = {
      [COMMAND_HEADER]: '3:41',
      [REQUEST_HEADER]: 'req-1',
      [LABELS_HEADER]: '{"camera":"Gate"}',
    };
    await bus.publish(Topics.detections, 'cam', set('cam', 'audio', 0), {
      ...run,
      [CAPTURE_EPOCH_HEADER]: '1700000000000',
      [LIVE_FRAME_HEADER]: '1700000000200',
    });
    await bus.idle();
    now = 6_000;
    await fusion.checkIdle();
    now = 30_000;
    await fusion.checkIdle();
    await bus.idle();
    expect(statuses).toEqual([run, run]);
    await fusion.stop();
    await bus.close();
  });

  it('reports a stalled stream started again when its detections come back', async () => {
    const bus = new MemoryBus();
    let now = 0;
    const fusion = new FusionStage(bus, defaultRuleSet(), {
      idle: { stalledSec: 5, endedSec: 20 },
      clock: { now: () => now },
    });
    const statuses: StreamStatus[] = [];
    await bus.subscribe(
      Topics.streamStatus,
      'test',
      async ({ value }) => void statuses.push(value),
    );
    await fusion.start();
    await bus.publish(Topics.detections, 'cam', set('cam', 'audio', 0));
    await bus.idle();
    now = 6_000;
    await fusion.checkIdle();
    await bus.publish(Topics.detections, 'cam', set('cam', 'audio', 0.25));
    await bus.idle();
    expect(statuses.map((s) => s.state)).toEqual(['stalled', 'started']);
    now = 30_000;
    await bus.publish(Topics.detections, 'cam', set('cam', 'audio', 0, true));
    await bus.publish(Topics.detections, 'cam', set('cam', 'video', 0, true));
    await bus.idle();
    await fusion.checkIdle(); // ended properly: nothing left to time out
    expect(statuses.map((s) => s.state)).toEqual(['stalled', 'started']);
    await fusion.stop();
    await bus.close();
  });
});
