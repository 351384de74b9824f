import { makeIncident } from '@app/testing/incident.factory';
import { sqlBackends, type OpenBackend } from '@app/testing/sql-backends';
import { FakeClock } from '../test/fake.clock';
import { EventRepository } from './event.repository';
import { HistoryError } from './history.error';
import { IncidentActionRepository, dispositionOf } from './incident-action.repository';

async function errorOf(fn: () => Promise<unknown>): Promise<HistoryError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HistoryError);
    return error as HistoryError;
  }
  throw new Error('no HistoryError');
}

describe.each(sqlBackends())('IncidentActionRepository on $name', (backend) => {
  let db: OpenBackend;
  let clock: FakeClock;
  let events: EventRepository;
  let actions: IncidentActionRepository;
  const incident = makeIncident(1);
  const desk = { actor: 'desk', role: 'operator' };

  beforeEach(async () => {
    clock = new FakeClock(1_000_000);
    db = await backend.open({ clock });
    events = await EventRepository.open(db.db, clock);
    actions = await IncidentActionRepository.open(db.db, clock);
    await events.save(incident);
  });

  afterEach(() => db.dispose());

  it('records who did what and when, in order, and derives where the incident stands', async () => {
    expect(dispositionOf(await actions.forIncident(incident.incidentId))).toBe('new');
    await actions.record({ incidentId: incident.incidentId, action: 'acknowledge', ...desk });
    clock.advance(5000);
    const resolved = await actions.record({
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
    const trail = await actions.forIncident(incident.incidentId);
    expect(trail.map((a) => [a.action, a.actor, a.at])).toEqual([
      ['acknowledge', 'desk', 1_000_000],
      ['resolve', 'night-shift', 1_005_000],
    ]);
    expect(dispositionOf(trail)).toBe('resolved');
    expect((await actions.after(1)).map((a) => a.seq)).toEqual([2]);
    expect(await actions.latestSeq()).toBe(2);
  });

  it('refuses what does not fit, writing nothing', async () => {
    const record = (action: string, incidentId = incident.incidentId, note?: string) =>
      errorOf(() => actions.record({ incidentId, action: action as 'resolve', note, ...desk }));
    expect(await record('acknowledge', 'no-such-incident')).toMatchObject({ code: 'not-found' });
    expect(await record('delete')).toMatchObject({ code: 'invalid-argument', field: 'action' });
    expect(await record('resolve', incident.incidentId, 'x'.repeat(2001))).toMatchObject({
      field: 'note',
    });
    expect(await actions.latestSeq()).toBe(0);

    await actions.record({ incidentId: incident.incidentId, action: 'acknowledge', ...desk });
    expect(await record('acknowledge')).toMatchObject({ code: 'conflict' });
    await actions.record({ incidentId: incident.incidentId, action: 'false_alarm', ...desk });
    expect(await record('resolve')).toMatchObject({ code: 'conflict' });
    expect((await actions.forIncident(incident.incidentId)).map((a) => a.action)).toEqual([
      'acknowledge',
      'false_alarm',
    ]);
  });

  it('goes with its incident when retention removes the last event', async () => {
    await actions.record({ incidentId: incident.incidentId, action: 'acknowledge', ...desk });
    expect(await actions.sweep()).toBe(0);
    await events.sweep({ maxCount: 0 });
    expect(await actions.sweep()).toBe(1);
    expect(await actions.forIncident(incident.incidentId)).toEqual([]);
  });
});
