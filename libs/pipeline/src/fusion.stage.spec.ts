import { MemoryBus } from '@app/bus';
import { type DetectionSet, type SecurityEvent, Topics } from '@app/contracts';
import { defaultRuleSet, runScopedEventId } from '@app/fusion';
import { FusionStage } from './fusion.stage';
import { RULES_PROFILE_HEADER, RUN_HEADER } from './stream-headers';

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
});
