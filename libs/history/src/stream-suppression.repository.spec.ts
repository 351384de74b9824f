import { FakeClock } from '../test/fake.clock';
import { HistoryDatabase } from './history.database';
import { HistoryError } from './history.error';
import { StreamSuppressionRepository } from './stream-suppression.repository';

describe('StreamSuppressionRepository', () => {
  let db: HistoryDatabase;
  let clock: FakeClock;
  let repo: StreamSuppressionRepository;
  const ask = { streamId: 'lobby', incidentId: 'i-1', actor: 'desk' };

  beforeEach(() => {
    clock = new FakeClock(1_000_000);
    db = new HistoryDatabase({ path: ':memory:', clock });
    repo = new StreamSuppressionRepository(db, clock);
  });

  afterEach(() => db.close());

  it('holds each class until it expires or is lifted, and keeps who asked and who lifted', () => {
    const made = repo.create({
      ...ask,
      classes: ['glass_break', 'scream', 'glass_break'],
      forMs: 60_000,
    });
    expect(made.map((s) => [s.cls, s.until, s.createdBy])).toEqual([
      ['glass_break', 1_060_000, 'desk'],
      ['scream', 1_060_000, 'desk'],
    ]);
    const lifted = repo.lift(made[1]!.id, 'night-shift');
    expect(lifted).toMatchObject({ cls: 'scream', liftedBy: 'night-shift', liftedAt: 1_000_000 });
    expect(repo.active().map((s) => s.cls)).toEqual(['glass_break']);
    clock.advance(60_000);
    expect(repo.active()).toEqual([]);
  });

  it('refuses what does not fit, changing nothing', () => {
    const code = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(HistoryError);
        return (error as HistoryError).code;
      }
      throw new Error('no HistoryError');
    };
    expect(code(() => repo.create({ ...ask, classes: ['gunshot'], forMs: 0 }))).toBe(
      'invalid-argument',
    );
    expect(code(() => repo.create({ ...ask, classes: ['gunshot'], forMs: 8 * 86_400_000 }))).toBe(
      'invalid-argument',
    );
    expect(code(() => repo.create({ ...ask, classes: [], forMs: 1000 }))).toBe('invalid-argument');
    expect(code(() => repo.lift(42, 'desk'))).toBe('not-found');
    const [one] = repo.create({ ...ask, classes: ['gunshot'], forMs: 1000 });
    repo.lift(one!.id, 'desk');
    expect(code(() => repo.lift(one!.id, 'desk'))).toBe('conflict');
    expect(repo.active()).toEqual([]);
  });
});
