import { type Headers, MemoryBus } from '@app/bus';
import { type DetectionSet, type SecurityEvent, type StreamStatus, Topics } from '@app/contracts';
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
