import type { DetectionSegment } from '@app/fusion';
import { fixture, fixtureLabels } from '@app/testing';
import { analyzeService } from '@app/testing/vigil-app';
import type { AnalyzeReport } from '../apps/vigil/src/analyze/analyze.service';

jest.setTimeout(120_000);

const reports = new Map<string, AnalyzeReport>();
let close: () => Promise<void>;

beforeAll(async () => {
  const app = await analyzeService();
  close = app.close;
  for (const clip of Object.keys(fixtureLabels().clips)) {
    reports.set(clip, await app.service.analyze({ source: fixture(clip) }));
  }
});

afterAll(() => close?.());

function segments(clip: string, cls: string): DetectionSegment[] {
  return reports.get(clip)!.segments.filter((s) => s.cls === cls);
}

describe('vigil analyze on the composed clips (real ffmpeg, real models)', () => {
  it('comp01: hears the glass break at 4.07 s, sees the person, raises one intrusion', () => {
    const clip = 'clips/comp01_person_glassbreak.mp4';
    const glass = segments(clip, 'glass_break');
    expect(glass.length).toBeGreaterThanOrEqual(1);
    expect(Math.abs(glass[0].startSec - 4.07)).toBeLessThan(0.5);
    expect(segments(clip, 'person').length).toBeGreaterThanOrEqual(1);
    const events = reports.get(clip)!.events;
    // One incident: opened, then closed when the clip ended.
    expect(events.map((e) => [e.rule, e.state, e.version])).toEqual([
      ['intrusion', 'opened', 1],
      ['intrusion', 'closed', 2],
    ]);
    expect(events[1].incidentId).toBe(events[0].incidentId);
    expect(events[0]).toMatchObject({ severity: 'high', trigger: 'glass_break' });
    expect(Math.abs(events[0].startSec - 4.07)).toBeLessThan(0.5);
  });

  it('comp02: hears both barks and sees the dog', () => {
    const clip = 'clips/comp02_dog_bark.mp4';
    const barks = segments(clip, 'dog_bark').map((s) => s.startSec);
    expect(barks.some((t) => Math.abs(t - 3.01) < 0.6)).toBe(true);
    expect(barks.some((t) => Math.abs(t - 6.62) < 0.6)).toBe(true);
    expect(segments(clip, 'animal').length).toBeGreaterThanOrEqual(1);
    const events = reports.get(clip)!.events;
    expect(events.every((e) => e.severity === 'low')).toBe(true);
    expect(events.map((e) => e.rule)).toContain('dog_bark');
  });

  it('comp04: a quiet night with crickets raises nothing', () => {
    expect(reports.get('clips/comp04_empty_night_ambience.mp4')!.events).toEqual([]);
  });

  it('comp05: the smoke alarm in an empty room is an unattended alarm, and nobody is seen', () => {
    const clip = 'clips/comp05_emptyroom_smoke_alarm.mp4';
    const events = reports.get(clip)!.events;
    expect(events.map((e) => [e.rule, e.state])).toEqual([
      ['unattended_alarm', 'opened'],
      ['unattended_alarm', 'closed'],
    ]);
    const alarm = segments(clip, 'alarm');
    expect(alarm[0].startSec).toBeGreaterThan(1.5);
    expect(alarm[0].startSec).toBeLessThan(3);
    expect(segments(clip, 'person')).toEqual([]);
  });

  it('gives the same events the same ids on a second run', async () => {
    const app = await analyzeService();
    try {
      const again = await app.service.analyze({
        source: fixture('clips/comp01_person_glassbreak.mp4'),
      });
      expect(again.events.map((e) => e.id)).toEqual(
        reports.get('clips/comp01_person_glassbreak.mp4')!.events.map((e) => e.id),
      );
    } finally {
      await app.close();
    }
  });
});
