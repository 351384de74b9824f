import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir, modelsDir } from '@app/testing';
import { runCli } from '@app/testing/cli-runner';

jest.setTimeout(180_000);

/**
 * `vigil eval` on a tiny labelled set whose answers are known from the fixtures: it checks the
 * scorer and the runner end to end, not the detector's quality (that is `vigil eval` on the
 * corpus, in CI).
 */
let dir: string;
const env = () => ({ VIGIL_MODELS_DIR: modelsDir() });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-eval-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function labels(name: string, body: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

const tiny = () =>
  labels('tiny.json', {
    items: [
      {
        file: 'clips/comp01_person_glassbreak.mp4',
        source: 'a',
        classes: ['glass_break', 'person'],
        events: [
          { class: 'glass_break', start: 4.07, end: 4.6 },
          { class: 'person', start: 0, end: 10 },
        ],
      },
      // Labelled wrongly on purpose: the barks are at 3.01 and 6.62 s, not at 8.5 s.
      {
        file: 'clips/comp02_dog_bark.mp4',
        source: 'b',
        classes: ['dog_bark', 'animal'],
        events: [{ class: 'dog_bark', start: 8.5, end: 9 }],
      },
      { file: 'clips/comp04_empty_night_ambience.mp4', source: 'c', classes: [], events: [] },
      // A real alarm labelled as a negative: its incident must count as a false alert.
      { file: 'clips/comp05_emptyroom_smoke_alarm.mp4', source: 'd', classes: [], events: [] },
    ],
  });

describe('vigil eval', () => {
  it('scores each item strictly and reports per class, per item and in total', async () => {
    const result = await runCli(
      ['eval', tiny(), '--root', fixturesDir(), '--json', '--jobs', '2'],
      env(),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    const byClass = Object.fromEntries(
      report.classes.map((c: { cls: string }) => [c.cls, c]),
    ) as Record<string, Record<string, number | null>>;
    expect(byClass.glass_break).toMatchObject({
      events: 1,
      hits: 1,
      recall: 1,
      falseDetections: 0,
    });
    expect(byClass.person).toMatchObject({ events: 1, hits: 1 });
    // Both real bark segments start more than 1 s before the (wrong) span: a miss and 2 false.
    expect(byClass.dog_bark).toMatchObject({ events: 1, hits: 0, recall: 0, falseDetections: 2 });
    expect(byClass.animal).toMatchObject({ events: 1, hits: 1 });
    // comp05's beeps come out as two segments, in 40 s of audio none of which is labelled alarm.
    expect(byClass.alarm.falseDetections).toBe(2);
    expect(byClass.alarm.falsePerHour).toBeCloseTo((2 * 3600) / 40, 0);
    expect(
      report.items.map((i: { expectedAlert: boolean; raisedAlert: boolean }) => [
        i.expectedAlert,
        i.raisedAlert,
      ]),
    ).toEqual([
      [true, true],
      [false, false],
      [false, false],
      [false, false],
    ]);
    expect(report.items[3].falseAlerts.map((a: { rule: string }) => a.rule)).toEqual([
      'unattended_alarm',
    ]);
    expect(report.totals).toMatchObject({
      items: 4,
      events: 4,
      hits: 3,
      expectedAlerts: 1,
      raisedAlerts: 1,
      falseAlerts: 1,
    });
  });

  it('exits 1 naming every bar it falls below, with the human report', async () => {
    const result = await runCli(
      [
        'eval',
        tiny(),
        '--root',
        fixturesDir(),
        '--min-recall',
        '0.9',
        '--min-recall',
        'person=1',
        '--max-false-alerts',
        '0',
      ],
      env(),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^ {2}CLASS +EVENTS +HITS +RECALL/m);
    expect(result.stdout).toContain(
      'Totals: 3/4 events found (75.0%), 1/1 expected alerts raised, 1 false alert(s)',
    );
    expect(result.stdout).toContain(
      'Below the bars:\n  dog_bark: recall 0.000 (0/1) is below 0.9\n  false alerts: 1 is above 0\n',
    );
    expect(result.stdout).not.toContain('person: recall');
  });

  it.each([
    [
      { items: [{ file: 'audio/nope.ogg', classes: [] }] },
      /1 labelled file\(s\) not found: audio\/nope.ogg/,
    ],
    [
      { items: [{ file: 'a.ogg', classes: ['glass'] }] },
      /items\[0\] \(a.ogg\).classes\[0\]: unknown class "glass"/,
    ],
  ])('exits 2 with one line for bad labels: %j', async (body, message) => {
    const result = await runCli(['eval', labels('bad.json', body), '--root', fixturesDir()], env());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it.each([
    [['eval'], /eval takes one or more labels files/],
    [['eval', 'x.json', '--min-recall', '1.5'], /--min-recall: expected a number from 0 to 1/],
    [['eval', 'x.json', '--jobs', '0'], /--jobs must be a whole number from 1 to 64/],
    [['eval', join('no', 'such', 'labels.json')], /labels.json: ENOENT/],
  ])('exits 2 for bad arguments: %j', async (args, message) => {
    const result = await runCli(args, env());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });
});
