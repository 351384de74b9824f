import { makeIncident } from '@app/testing/incident.factory';
import { FakeClock } from '../test/fake.clock';
import { EventRepository } from './event.repository';
import { HistoryDatabase } from './history.database';
import { HistoryError } from './history.error';
import { IncidentActionRepository, dispositionOf } from './incident-action.repository';

function errorOf(fn: () => unknown): HistoryError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HistoryError);
    return error as HistoryError;
  }
  throw new Error('no HistoryError');
}

describe('IncidentActionRepository', () => {
  let db: HistoryDatabase;
  let clock: FakeClock;
  let events: EventRepository;
  let actions: IncidentActionRepository;
  const incident = makeIncident(1);
  const desk = { actor: 'desk', role: 'operator' };

  beforeEach(() => {
    clock = new FakeClock(1_000_000);
    db = new HistoryDatabase({ path: ':memory:', clock });
    events = new EventRepository(db, clock);
    actions = new IncidentActionRepository(db, clock);
    events.save(incident);
  });

  afterEach(() => db.close());

  it('records who did what and when, in order, and derives where the incident stands', () => {
    expect(dispositionOf(actions.forIncident(incident.incidentId))).toBe('new');
    actions.record({ incidentId: incident.incidentId, action: 'acknowledge', ...desk });
    clock.advance(5000);
    const resolved = actions.record({
      incidentId: incident.incidentId,
      action: 'resolve',
      note: 'window boarded up',
      actor: 'night-shift',
      role: 'operator',
    });
    expect(resolved).toEqual({
      seq: 2,
      incidentId: incident.incidentId,
      action: 'resolve',
      note: 'window boarded up',
      actor: 'night-shift',
      role: 'operator',
      at: 1_005_000,
    });
    const trail = actions.forIncident(incident.incidentId);
    expect(trail.map((a) => [a.action, a.actor, a.at])).toEqual([
      ['acknowledge', 'desk', 1_000_000],
      ['resolve', 'night-shift', 1_005_000],
    ]);
    expect(dispositionOf(trail)).toBe('resolved');
    expect(actions.after(1).map((a) => a.seq)).toEqual([2]);
    expect(actions.latestSeq()).toBe(2);
  });

  it('refuses what does not fit, writing nothing', () => {
    const record = (action: string, incidentId = incident.incidentId, note?: string) =>
      errorOf(() => actions.record({ incidentId, action: action as 'resolve', note, ...desk }));
    expect(record('acknowledge', 'no-such-incident')).toMatchObject({ code: 'not-found' });
    expect(record('delete')).toMatchObject({ code: 'invalid-argument', field: 'action' });
    expect(record('resolve', incident.incidentId, 'x'.repeat(2001))).toMatchObject({
      field: 'note',
    });
    expect(actions.latestSeq()).toBe(0);

    actions.record({ incidentId: incident.incidentId, action: 'acknowledge', ...desk });
    expect(record('acknowledge')).toMatchObject({ code: 'conflict' });
    actions.record({ incidentId: incident.incidentId, action: 'false_alarm', ...desk });
    expect(record('resolve')).toMatchObject({ code: 'conflict' });
    expect(actions.forIncident(incident.incidentId).map((a) => a.action)).toEqual([
      'acknowledge',
      'false_alarm',
    ]);
  });

  it('goes with its incident when retention removes the last event', () => {
    actions.record({ incidentId: incident.incidentId, action: 'acknowledge', ...desk });
    expect(actions.sweep()).toBe(0);
    events.sweep({ maxCount: 0 });
    expect(actions.sweep()).toBe(1);
    expect(actions.forIncident(incident.incidentId)).toEqual([]);
  });
});
