import type { EvalItem } from './eval-labels';
import {
  type ItemOutcome,
  type ObservedIncident,
  type ObservedSegment,
  scoreItems,
} from './eval.scorer';

const alertClasses = new Set(['glass_break', 'gunshot', 'scream', 'alarm'] as const);

function item(
  file: string,
  classes: EvalItem['classes'],
  events: EvalItem['events'] = [],
): EvalItem {
  return { file, path: `/corpus/${file}`, source: file.split('_')[0], classes, events };
}

function seg(
  cls: ObservedSegment['cls'],
  startSec: number,
  endSec = startSec + 0.5,
): ObservedSegment {
  return { cls, startSec, endSec, maxScore: 0.5 };
}

function incident(
  trigger: ObservedIncident['trigger'],
  severity: ObservedIncident['severity'],
  version: Partial<ObservedIncident> = {},
): ObservedIncident {
  return {
    id: `${trigger}-${severity}`,
    incidentId: `${trigger}-${severity}`,
    state: 'opened',
    rule: trigger,
    trigger,
    triggers: [trigger],
    severity,
    startSec: 1,
    ...version,
  };
}

function outcome(
  it: EvalItem,
  segments: ObservedSegment[],
  incidents: ObservedIncident[] = [],
  audioSec = 10,
): ItemOutcome {
  return { item: it, audioSec, segments, incidents };
}

describe('scoreItems', () => {
  const glass = item('a_glass.ogg', ['glass_break'], [{ cls: 'glass_break', start: 4, end: 4.5 }]);
  const barks = item(
    'b_dog.ogg',
    ['dog_bark'],
    [
      { cls: 'dog_bark', start: 1, end: 1.5 },
      { cls: 'dog_bark', start: 6, end: 6.4 },
    ],
  );
  const cafe = item('c_cafe.ogg', [], []);
  const picture = item('d_person.jpg', ['person']);

  it('counts a detection starting within 1 s of the span as a hit, and one outside as false', () => {
    const report = scoreItems(
      [
        outcome(glass, [seg('glass_break', 3.01), seg('glass_break', 8)]),
        outcome(barks, [seg('dog_bark', 5.6)]),
      ],
      { alertClasses },
    );
    const glassFigures = report.classes.find((c) => c.cls === 'glass_break')!;
    expect(glassFigures).toMatchObject({
      events: 1,
      hits: 1,
      detections: 2,
      falseDetections: 1,
      precision: 0.5,
    });
    expect(glassFigures.onsetMaxSec).toBeCloseTo(0.99);
    const dog = report.classes.find((c) => c.cls === 'dog_bark')!;
    expect(dog).toMatchObject({
      events: 2,
      hits: 1,
      recall: 0.5,
      falseDetections: 0,
      precision: 1,
    });
    expect(dog.f1).toBeCloseTo(2 / 3);
    expect(report.items[1].missed).toEqual([{ cls: 'dog_bark', start: 1, end: 1.5 }]);
  });

  it('does not count a detection that starts more than 1 s before the span', () => {
    const report = scoreItems([outcome(glass, [seg('glass_break', 2.99)])], { alertClasses });
    expect(report.classes[0]).toMatchObject({
      cls: 'glass_break',
      hits: 0,
      falseDetections: 1,
      recall: 0,
      f1: 0,
    });
  });

  it('rates false detections per hour of audio not labelled with the class', () => {
    const report = scoreItems(
      [
        outcome(glass, [], [], 1800),
        outcome(cafe, [seg('glass_break', 2), seg('glass_break', 20)], [], 1800),
        outcome(barks, [seg('glass_break', 3)], [], 1800),
      ],
      { alertClasses },
    );
    const figures = report.classes.find((c) => c.cls === 'glass_break')!;
    // 3 false detections over the café and the dog file: one hour of audio without glass.
    expect(figures.falseDetections).toBe(3);
    expect(figures.falsePerHour).toBeCloseTo(3);
    expect(report.totals.audioHours).toBeCloseTo(1.5);
  });

  it('scores a class without spans on presence (pictures)', () => {
    const report = scoreItems(
      [outcome(picture, [seg('person', 0, 0), seg('vehicle', 0, 0)], [], 0)],
      { alertClasses },
    );
    expect(report.classes.map((c) => [c.cls, c.hits, c.falseDetections, c.falsePerHour])).toEqual([
      ['person', 1, 0, null],
      ['vehicle', 0, 1, null],
    ]);
  });

  it('calls a medium-or-higher incident false when its trigger is not labelled, and finds expected alerts', () => {
    const report = scoreItems(
      [
        outcome(
          glass,
          [seg('glass_break', 4)],
          [incident('glass_break', 'high'), incident('gunshot', 'critical')],
        ),
        outcome(cafe, [], [incident('dog_bark', 'low'), incident('scream', 'medium')]),
        outcome(barks, []),
      ],
      { alertClasses },
    );
    expect(report.items.map((i) => [i.expectedAlert, i.raisedAlert, i.falseAlerts.length])).toEqual(
      [
        [true, true, 1],
        [false, false, 1],
        [false, false, 0],
      ],
    );
    expect(report.totals).toMatchObject({ expectedAlerts: 1, raisedAlerts: 1, falseAlerts: 2 });
  });

  it('counts what reached an operator: openings and escalations, with every trigger the incident gathered', () => {
    const scream = item('scream.ogg', ['scream', 'person']);
    const opened = incident('glass_break', 'high', { incidentId: 'i1', rule: 'intrusion' });
    const report = scoreItems(
      [
        // A weak glass break opened the intrusion; the real scream joined it as an update.
        outcome(
          scream,
          [],
          [
            opened,
            {
              ...opened,
              id: 'i1v2',
              state: 'updated',
              trigger: 'scream',
              triggers: ['glass_break', 'scream'],
            },
            {
              ...opened,
              id: 'i1v3',
              state: 'closed',
              trigger: 'scream',
              triggers: ['glass_break', 'scream'],
            },
          ],
        ),
        // A dog barking opened a low incident that a gunshot escalated.
        outcome(
          barks,
          [],
          [
            incident('dog_bark', 'low', { incidentId: 'i2' }),
            incident('gunshot', 'critical', {
              incidentId: 'i2',
              state: 'escalated',
              triggers: ['dog_bark', 'gunshot'],
            }),
          ],
        ),
      ],
      { alertClasses },
    );
    expect(report.items.map((i) => [i.raisedAlert, i.falseAlerts.map((a) => a.trigger)])).toEqual([
      [true, ['glass_break']],
      [true, ['gunshot']],
    ]);
  });

  it('lets the labels state whether an alert is expected', () => {
    const clip = { ...item('comp02.mp4', ['dog_bark', 'animal']), expectAlert: false };
    const report = scoreItems([outcome(clip, [])], {
      alertClasses: new Set(['dog_bark'] as const),
    });
    expect(report.items[0].expectedAlert).toBe(false);
  });

  it('counts an item that failed as missing every event, with its error', () => {
    const report = scoreItems(
      [{ ...outcome(glass, [seg('glass_break', 4)]), error: 'decode failed' }],
      {
        alertClasses,
      },
    );
    expect(report.totals).toMatchObject({ failedItems: 1, events: 1, hits: 0 });
    expect(report.items[0].error).toBe('decode failed');
  });
});
