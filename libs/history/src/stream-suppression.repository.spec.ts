import { sqlBackends, type OpenBackend } from '@app/testing/sql-backends';
import { FakeClock } from '../test/fake.clock';
import { HistoryError } from './history.error';
import { StreamSuppressionRepository } from './stream-suppression.repository';

describe.each(sqlBackends())('StreamSuppressionRepository on $name', (backend) => {
  let db: OpenBackend;
  let clock: FakeClock;
  let repo: StreamSuppressionRepository;
  const ask = { streamId: 'lobby', incidentId: 'i-1', actor: 'desk' };

  beforeEach(async () => {
    clock = new FakeClock(1_000_000);
    db = await backend.open({ clock });
    repo = await StreamSuppressionRepository.open(db.db, clock);
  });

  afterEach(() => db.dispose());

  it('holds each class until it expires or is lifted, and keeps who asked and who lifted', async () => {
    const made = await repo.create({
      ...ask,
      classes: ['glass_break', 'scream', 'glass_break'],
      forMs: 60_000,
    });
    expect(made.map((s) => [s.cls, s.until, s.createdBy])).toEqual([
      ['glass_break', 1_060_000, 'desk'],
      ['scream', 1_060_000, 'desk'],
    ]);
    const lifted = await repo.lift(made[1]!.id, 'night-shift');
    expect(lifted).toMatchObject({ cls: 'scream', liftedBy: 'night-shift', liftedAt: 1_000_000 });
    expect((await repo.active()).map((s) => s.cls)).toEqual(['glass_break']);
    clock.advance(60_000);
    expect(await repo.active()).toEqual([]);
  });

  it('refuses what does not fit, changing nothing', async () => {
    const code = async (run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (error) {
        expect(error).toBeInstanceOf(HistoryError);
        return (error as HistoryError).code;
      }
      throw new Error('no HistoryError');
    };
    expect(await code(() => repo.create({ ...ask, classes: ['gunshot'], forMs: 0 }))).toBe(
      'invalid-argument',
    );
    expect(
      await code(() => repo.create({ ...ask, classes: ['gunshot'], forMs: 8 * 86_400_000 })),
    ).toBe('invalid-argument');
    expect(await code(() => repo.create({ ...ask, classes: [], forMs: 1000 }))).toBe(
      'invalid-argument',
    );
    expect(await code(() => repo.lift(42, 'desk'))).toBe('not-found');
    const [one] = await repo.create({ ...ask, classes: ['gunshot'], forMs: 1000 });
    await repo.lift(one!.id, 'desk');
    expect(await code(() => repo.lift(one!.id, 'desk'))).toBe('conflict');
    expect(await repo.active()).toEqual([]);
  });
});
