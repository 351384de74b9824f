import {
  AUDIO_CLASSES,
  type CanonicalClass,
  SEVERITIES,
  type SecurityEvent,
  VIDEO_CLASSES,
} from '@app/contracts';
import { matchesEventFilter } from './event-filter.matcher';
import { EventRepository } from './event.repository';
import { sqlBackends } from '@app/testing/sql-backends';
import type { EventFilter } from './stored-event.types';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

describe('matchesEventFilter', () => {
  it.each(sqlBackends())(
    'agrees with the repository SQL on every filter shape ($name)',
    async (backend) => {
      const next = random(7);
      const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
      const classes: CanonicalClass[] = [...AUDIO_CLASSES, ...VIDEO_CLASSES];
      const events: SecurityEvent[] = Array.from({ length: 120 }, (_, i) => {
        const trigger = pick(AUDIO_CLASSES);
        const streamId = pick(['cam-1', 'cam-2', 'cam-3']);
        // Every fifth a site incident, naming another camera too: a stream filter finds it by either;
        // some of them a zone rule's. Every third a camera's own incident in a site (its site
        // only); the rest cameras in no site.
        const cameras =
          i % 5 === 0
            ? {
                site: pick(['hq', 'depot']),
                ...(next() < 0.5 ? { zone: pick(['lobby', 'yard']) } : {}),
                cameras: [streamId, pick(['cam-4', 'cam-2'])],
              }
            : i % 3 === 0
              ? { site: pick(['hq', 'depot']) }
              : {};
        return {
          ...cameras,
          id: `e${i}`,
          incidentId: `e${i}`,
          version: 1,
          state: 'opened',
          streamId,
          rule: 'r',
          title: 't',
          severity: pick(SEVERITIES),
          startSec: i,
          endSec: i + 1,
          trigger,
          // An updated incident also lists the classes that triggered it before.
          triggers: i % 3 === 0 ? [pick(AUDIO_CLASSES), trigger] : [trigger],
          evidence: Array.from({ length: Math.floor(next() * 3) }, () => {
            const cls = pick(classes);
            return {
              cls,
              modality: VIDEO_CLASSES.includes(cls as never)
                ? ('video' as const)
                : ('audio' as const),
              score: 0.5,
              atSec: i,
            };
          }),
        };
      });
      const open = await backend.open();
      const repository = await EventRepository.open(open.db);
      for (const event of events) await repository.save(event, { occurredAt: 1 });

      const filters: EventFilter[] = [{}];
      for (let i = 0; i < 60; i++) {
        filters.push({
          ...(next() < 0.5 ? { streamIds: [pick(['cam-1', 'cam-2', 'cam-3', 'cam-4'])] } : {}),
          ...(next() < 0.6 ? { classes: [pick(classes), pick(classes)] } : {}),
          ...(next() < 0.5 ? { minSeverity: pick(SEVERITIES) } : {}),
          ...(next() < 0.3 ? { sites: [pick(['hq', 'depot', 'nowhere'])] } : {}),
          ...(next() < 0.2 ? { zones: [pick(['lobby', 'yard']), pick(['lobby', 'gate'])] } : {}),
        });
      }
      for (const filter of filters) {
        const fromSql = (
          await repository.list({ ...filter, pageSize: 500, order: 'oldest-first' })
        ).events.map((s) => s.event.id);
        const inMemory = events.filter((e) => matchesEventFilter(e, filter)).map((e) => e.id);
        expect({ filter, ids: inMemory }).toEqual({ filter, ids: fromSql });
      }
      // The site incidents are found by their other camera.
      const byOther = events.filter((e) => matchesEventFilter(e, { streamIds: ['cam-4'] }));
      expect(byOther).not.toEqual([]);
      // A site filter finds the site's incidents and its cameras' own, nothing outside it.
      const hq = events.filter((e) => matchesEventFilter(e, { sites: ['hq'] }));
      expect(hq.some((e) => e.cameras)).toBe(true);
      expect(hq.some((e) => !e.cameras)).toBe(true);
      expect(hq.every((e) => e.site === 'hq')).toBe(true);
      expect(events.filter((e) => matchesEventFilter(e, { zones: ['lobby'] }))).not.toEqual([]);
      await open.dispose();
    },
  );
});
