import type { SecurityEvent } from '@app/contracts';
import { makeIncident as makeEvent } from '@app/testing/incident.factory';
import { sqlBackends, type OpenBackend } from '@app/testing/sql-backends';
import { FakeClock } from '../test/fake.clock';
import { EventRepository } from './event.repository';
import { EVENT_MIGRATIONS } from './event.migrations';
import { HistoryError } from './history.error';
import type { EvidenceRef, ListEventsQuery, StoredEvent } from './stored-event.types';

const SHA = 'ab'.repeat(32);
const ref = (name: string, key = `evidence/${name}`): EvidenceRef => ({
  name,
  key,
  contentType: name === 'clip' ? 'video/mp4' : 'image/jpeg',
  bytes: 1234,
  sha256: SHA,
});

async function expectHistoryError(
  fn: () => Promise<unknown>,
  code: HistoryError['code'],
  field: string,
): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(HistoryError);
  expect(thrown).toMatchObject({ code, field });
}

describe.each(sqlBackends())('EventRepository on $name', (backend) => {
  let db: OpenBackend;
  let clock: FakeClock;
  let repo: EventRepository;

  beforeEach(async () => {
    clock = new FakeClock(1_000_000);
    db = await backend.open({ clock });
    repo = await EventRepository.open(db.db, clock);
  });

  afterEach(() => db.dispose());

  /** Saves events 1..n, one second of wall clock apart, and returns their seqs. */
  async function saveMany(n: number, shape: (i: number) => Partial<SecurityEvent> = () => ({})) {
    const seqs: number[] = [];
    for (let i = 1; i <= n; i++) {
      seqs.push((await repo.save(makeEvent(i, shape(i)), { occurredAt: clock.now() })).seq);
      clock.advance(1000);
    }
    return seqs;
  }

  const ids = (events: StoredEvent[]) => events.map((e) => e.event.id);
  const idsOf = (...ns: number[]) => ns.map((n) => makeEvent(n).id);

  describe('save', () => {
    it('keeps a site incident’s site, zone and cameras, and what absorbed a camera’s', async () => {
      const site = makeEvent(1, {
        site: 'hq',
        zone: 'lobby',
        cameras: ['cam-b', 'cam-a'],
        evidence: [
          { cls: 'gunshot', modality: 'audio', score: 0.9, atSec: 4.25, streamId: 'cam-b' },
          { cls: 'gunshot', modality: 'audio', score: 0.8, atSec: 4.5, streamId: 'cam-a' },
        ],
      });
      const own = makeEvent(2, { site: 'hq', absorbedBy: site.incidentId });
      await repo.save(site, { occurredAt: 1 });
      await repo.save(own, { occurredAt: 2 });
      expect((await repo.get(site.id))?.event).toEqual(site);
      expect((await repo.get(own.id))?.event).toEqual(own);
      expect((await repo.get(own.id))?.event.cameras).toBeUndefined();
    });

    it('stores an event with its meta and gives increasing seqs', async () => {
      const first = await repo.save(makeEvent(1), {
        occurredAt: 5_000,
        streamLabels: { site: 'HQ', camera: 'Lobby' },
        evidenceRefs: [ref('snapshot')],
      });
      const second = await repo.save(makeEvent(2));

      expect(first).toEqual({ seq: 1, inserted: true });
      expect(second).toEqual({ seq: 2, inserted: true });
      expect(await repo.get(makeEvent(1).id)).toEqual({
        seq: 1,
        event: makeEvent(1),
        occurredAt: 5_000,
        storedAt: 1_000_000,
        streamLabels: { site: 'HQ', camera: 'Lobby' },
        evidenceRefs: [ref('snapshot')],
      });
      // occurredAt comes from the clock when the caller has none
      expect(await repo.get(makeEvent(2).id)).toMatchObject({
        occurredAt: 1_000_000,
        evidenceRefs: [],
      });
      expect(await repo.get(makeEvent(2).id)).not.toHaveProperty('streamLabels');
    });

    it('stores a replayed event once and keeps its first seq and times', async () => {
      await repo.save(makeEvent(1), { occurredAt: 10 });
      await repo.save(makeEvent(2), { occurredAt: 20 });
      clock.advance(60_000);

      const replay = await repo.save(makeEvent(1, { title: 'changed' }), { occurredAt: 99 });

      expect(replay).toEqual({ seq: 1, inserted: false });
      expect(await repo.count()).toBe(2);
      expect(await repo.get(makeEvent(1).id)).toMatchObject({
        seq: 1,
        occurredAt: 10,
        storedAt: 1_000_000,
        event: { title: makeEvent(1).title },
      });
      expect((await repo.save(makeEvent(3))).seq).toBe(3);
    });

    it('keeps every version of an incident, each under its own id, findable by its classes', async () => {
      const opened = makeEvent(1, { incidentId: 'inc-1' });
      const updated = makeEvent(1, {
        id: 'inc-1-v2',
        incidentId: 'inc-1',
        version: 2,
        state: 'updated',
        trigger: 'scream',
        triggers: ['glass_break', 'scream'],
        evidence: [],
      });
      await repo.save(opened);
      await repo.save(updated);
      expect((await repo.get('inc-1-v2'))?.event).toEqual(updated);
      const page = await repo.list({ classes: ['glass_break'] });
      expect(ids(page.events)).toEqual(['inc-1-v2', opened.id]);
    });

    it('reads a row stored before incidents had versions as an opened incident of its own', async () => {
      const old = await backend.open({ clock });
      await old.db.migrate(EVENT_MIGRATIONS.slice(0, 1));
      await old.db.run(
        `INSERT INTO events (id, stream_id, rule, title, severity, severity_rank, trigger_cls,
           start_sec, end_sec, occurred_at, stored_at, evidence)
         VALUES ('old-1', 'cam-1', 'gunshot', 'Gunshot', 'critical', 5, 'gunshot', 1, 2, 3, 4, '[]')`,
      );
      const upgraded = await EventRepository.open(old.db, clock);
      expect((await upgraded.get('old-1'))?.event).toMatchObject({
        id: 'old-1',
        incidentId: 'old-1',
        version: 1,
        state: 'opened',
        trigger: 'gunshot',
        triggers: ['gunshot'],
      });
      await old.dispose();
    });

    it('returns undefined for an id never stored', async () => {
      expect(await repo.get('nope')).toBeUndefined();
    });

    it('refuses an event it could not index, naming the field', async () => {
      await expectHistoryError(
        () => repo.save(makeEvent(1, { severity: 'urgent' as never })),
        'invalid-argument',
        'severity',
      );
      await expectHistoryError(() => repo.save(makeEvent(1, { id: '' })), 'invalid-argument', 'id');
      await expectHistoryError(
        () => repo.save(makeEvent(1, { trigger: 'ufo' as never })),
        'invalid-argument',
        'trigger',
      );
      await expectHistoryError(
        () => repo.save(makeEvent(1), { evidenceRefs: [{ ...ref('clip'), sha256: 'xyz' }] }),
        'invalid-argument',
        'evidenceRefs',
      );
      expect(await repo.count()).toBe(0);
    });
  });

  describe('list filters', () => {
    beforeEach(async () => {
      // 1: cam-1 glass_break+person high   2: cam-2 gunshot critical   3: cam-1 scream medium
      // 4: cam-3 alarm low (no evidence of a person)   5: cam-2 siren info
      await repo.save(makeEvent(1), { occurredAt: 1_000 });
      await repo.save(
        makeEvent(2, {
          streamId: 'cam-2',
          trigger: 'gunshot',
          severity: 'critical',
          evidence: [{ cls: 'gunshot', modality: 'audio', score: 0.99, atSec: 2 }],
        }),
        { occurredAt: 2_000 },
      );
      await repo.save(
        makeEvent(3, {
          trigger: 'scream',
          severity: 'medium',
          evidence: [{ cls: 'scream', modality: 'audio', score: 0.7, atSec: 3 }],
        }),
        { occurredAt: 3_000 },
      );
      await repo.save(
        makeEvent(4, {
          streamId: 'cam-3',
          trigger: 'alarm',
          severity: 'low',
          evidence: [{ cls: 'alarm', modality: 'audio', score: 0.6, atSec: 4 }],
        }),
        { occurredAt: 4_000 },
      );
      await repo.save(
        makeEvent(5, {
          streamId: 'cam-2',
          trigger: 'siren',
          severity: 'info',
          evidence: [{ cls: 'siren', modality: 'audio', score: 0.6, atSec: 5 }],
        }),
        { occurredAt: 5_000 },
      );
    });

    const list = async (query: ListEventsQuery) => ids((await repo.list(query)).events);

    it('lists everything newest first by default', async () => {
      expect(await list({})).toEqual(idsOf(5, 4, 3, 2, 1));
      expect(await list({ order: 'oldest-first' })).toEqual(idsOf(1, 2, 3, 4, 5));
    });

    it('filters by stream', async () => {
      expect(await list({ streamIds: ['cam-2'] })).toEqual(idsOf(5, 2));
      expect(await list({ streamIds: ['cam-3', 'cam-1'] })).toEqual(idsOf(4, 3, 1));
      expect(await list({ streamIds: [] })).toHaveLength(5);
    });

    it('filters by class, on the trigger or on any evidence', async () => {
      expect(await list({ classes: ['gunshot'] })).toEqual(idsOf(2));
      // person is only evidence, never a trigger here
      expect(await list({ classes: ['person'] })).toEqual(idsOf(1));
      expect(await list({ classes: ['person', 'alarm'] })).toEqual(idsOf(4, 1));
      expect(await list({ classes: ['vehicle'] })).toEqual([]);
    });

    it('filters by minimum severity', async () => {
      expect(await list({ minSeverity: 'medium' })).toEqual(idsOf(3, 2, 1));
      expect(await list({ minSeverity: 'critical' })).toEqual(idsOf(2));
      expect(await list({ minSeverity: 'info' })).toHaveLength(5);
    });

    it('filters by a half-open range of occurredAt', async () => {
      expect(await list({ from: 2_000, to: 4_000 })).toEqual(idsOf(3, 2));
      expect(await list({ from: 4_000 })).toEqual(idsOf(5, 4));
      expect(await list({ to: 2_000 })).toEqual(idsOf(1));
    });

    it('combines filters', async () => {
      expect(
        await list({ streamIds: ['cam-1', 'cam-2'], minSeverity: 'high', from: 1_500 }),
      ).toEqual(idsOf(2));
      expect(await list({ streamIds: ['cam-1'], classes: ['scream', 'glass_break'] })).toEqual(
        idsOf(3, 1),
      );
    });

    it('filters by site and zone: a site incident and its cameras’ own incidents', async () => {
      // 6: hq's site incident over cam-1 and cam-2 in zone lobby   7: cam-1's own, in hq
      // 8: depot's site incident (no zone)
      await repo.save(
        makeEvent(6, { site: 'hq', zone: 'lobby', cameras: ['cam-2', 'cam-1'], streamId: 'cam-2' }),
        { occurredAt: 6_000 },
      );
      await repo.save(makeEvent(7, { site: 'hq' }), { occurredAt: 7_000 });
      await repo.save(makeEvent(8, { site: 'depot', cameras: ['cam-8', 'cam-9'] }), {
        occurredAt: 8_000,
      });
      expect(await list({ sites: ['hq'] })).toEqual(idsOf(7, 6));
      expect(await list({ sites: ['depot', 'hq'] })).toEqual(idsOf(8, 7, 6));
      expect(await list({ sites: ['nowhere'] })).toEqual([]);
      expect(await list({ sites: [] })).toHaveLength(8);
      expect(await list({ zones: ['lobby'] })).toEqual(idsOf(6));
      expect(await list({ sites: ['hq'], zones: ['lobby'] })).toEqual(idsOf(6));
      expect(await list({ sites: ['depot'], zones: ['lobby'] })).toEqual([]);
      expect(await list({ sites: ['hq'], streamIds: ['cam-1'] })).toEqual(idsOf(7, 6));
      expect(ids(await repo.after(makeEvent(6).id, { sites: ['hq', 'depot'] }))).toEqual(
        idsOf(7, 8),
      );
      await expectHistoryError(() => repo.list({ sites: [''] }), 'invalid-argument', 'sites');
      await expectHistoryError(
        () => repo.list({ zones: 'lobby' as never }),
        'invalid-argument',
        'zones',
      );
    });

    it('refuses bad filters, naming the field', async () => {
      await expectHistoryError(
        () => repo.list({ classes: ['ufo' as never] }),
        'invalid-argument',
        'classes',
      );
      await expectHistoryError(
        () => repo.list({ minSeverity: 'urgent' as never }),
        'invalid-argument',
        'minSeverity',
      );
      await expectHistoryError(() => repo.list({ from: 5, to: 1 }), 'invalid-argument', 'from');
      await expectHistoryError(
        () => repo.list({ streamIds: [''] }),
        'invalid-argument',
        'streamIds',
      );
      await expectHistoryError(() => repo.list({ pageSize: -1 }), 'invalid-argument', 'pageSize');
      await expectHistoryError(
        () => repo.list({ order: 'random' as never }),
        'invalid-argument',
        'order',
      );
    });
  });

  describe('paging', () => {
    async function pageThrough(
      query: ListEventsQuery,
    ): Promise<{ pages: number[]; events: StoredEvent[] }> {
      const pages: number[] = [];
      const events: StoredEvent[] = [];
      let pageToken: string | undefined;
      do {
        const page = await repo.list({ ...query, pageToken });
        pages.push(page.events.length);
        events.push(...page.events);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return { pages, events };
    }

    it('yields 120 events exactly once, in order, 50 at a time', async () => {
      const seqs = await saveMany(120);

      const newest = await pageThrough({ pageSize: 50 });
      expect(newest.pages).toEqual([50, 50, 20]);
      expect(newest.events.map((e) => e.seq)).toEqual([...seqs].reverse());

      const oldest = await pageThrough({ pageSize: 50, order: 'oldest-first' });
      expect(oldest.pages).toEqual([50, 50, 20]);
      expect(oldest.events.map((e) => e.seq)).toEqual(seqs);
    });

    it('pages through a filtered set without gaps', async () => {
      await saveMany(120, (i) => ({ streamId: i % 3 === 0 ? 'cam-3' : 'cam-1' }));
      const { pages, events } = await pageThrough({ pageSize: 15, streamIds: ['cam-3'] });
      expect(pages).toEqual([15, 15, 10]);
      expect(ids(events)).toEqual(Array.from({ length: 40 }, (_, k) => makeEvent(120 - 3 * k).id));
    });

    it('ends without a token when the last page is exactly full', async () => {
      await saveMany(100);
      expect((await pageThrough({ pageSize: 50 })).pages).toEqual([50, 50]);
    });

    it('is not thrown off by events stored between pages', async () => {
      await saveMany(60);
      const first = await repo.list({ pageSize: 50 });
      await saveMany(10, (i) => ({ id: `late-${i}` }));
      const second = await repo.list({ pageSize: 50, pageToken: first.nextPageToken });
      expect([...first.events, ...second.events].map((e) => e.seq)).toEqual(
        Array.from({ length: 60 }, (_, k) => 60 - k),
      );
      expect(second.nextPageToken).toBeUndefined();
    });

    it('serves 50 by default and at most 500', async () => {
      await saveMany(600);
      expect((await repo.list({})).events).toHaveLength(50);
      expect((await repo.list({ pageSize: 0 })).events).toHaveLength(50);
      expect((await repo.list({ pageSize: 10_000 })).events).toHaveLength(500);
    });

    it('refuses a token that is garbage or belongs to another query', async () => {
      await saveMany(10);
      const { nextPageToken } = await repo.list({ pageSize: 3 });
      await expectHistoryError(
        () => repo.list({ pageSize: 3, pageToken: 'not-a-token' }),
        'invalid-argument',
        'pageToken',
      );
      await expectHistoryError(
        () => repo.list({ pageSize: 3, pageToken: nextPageToken, minSeverity: 'high' }),
        'invalid-argument',
        'pageToken',
      );
      await expectHistoryError(
        () => repo.list({ pageSize: 3, pageToken: nextPageToken, order: 'oldest-first' }),
        'invalid-argument',
        'pageToken',
      );
      // another page size is the same query
      expect((await repo.list({ pageSize: 4, pageToken: nextPageToken })).events[0].seq).toBe(7);
    });
  });

  describe('after (Subscribe resume)', () => {
    beforeEach(async () => {
      await saveMany(10, (i) => ({
        streamId: i % 2 ? 'cam-odd' : 'cam-even',
        severity: i > 5 ? 'critical' : 'low',
      }));
    });

    it('returns only later events, oldest first', async () => {
      expect(ids(await repo.after(makeEvent(7).id))).toEqual(idsOf(8, 9, 10));
      expect(ids(await repo.after(7))).toEqual(idsOf(8, 9, 10));
      expect(ids(await repo.after(0))).toEqual(idsOf(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
      expect(await repo.after(makeEvent(10).id)).toEqual([]);
    });

    it('applies the filters after the cursor, wherever the cursor event belongs', async () => {
      expect(ids(await repo.after(makeEvent(2).id, { streamIds: ['cam-odd'] }))).toEqual(
        idsOf(3, 5, 7, 9),
      );
      expect(
        ids(await repo.after(makeEvent(4).id, { streamIds: ['cam-even'], minSeverity: 'high' })),
      ).toEqual(idsOf(6, 8, 10));
      expect(ids(await repo.after(makeEvent(8).id, { classes: ['person'] }))).toEqual(idsOf(9, 10));
      expect(await repo.after(makeEvent(1).id, { classes: ['gunshot'] })).toEqual([]);
    });

    it('hands out at most `limit` events, so the caller pages by the last seq', async () => {
      const first = await repo.after(0, {}, 4);
      expect(first.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect((await repo.after(first[3].seq, {}, 4)).map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    });

    it('says NOT_FOUND for an id it does not hold, including one retention removed', async () => {
      await expectHistoryError(() => repo.after('never-stored'), 'not-found', 'cursor');
      await repo.sweep({ maxCount: 5 });
      await expectHistoryError(() => repo.after(makeEvent(1).id), 'not-found', 'cursor');
      await expectHistoryError(() => repo.after(-1), 'invalid-argument', 'cursor');
    });

    it('tells a live subscriber where history ends, even once retention emptied it', async () => {
      expect(await repo.latestSeq()).toBe(10);
      await repo.sweep({ maxCount: 0 });
      // Seqs are never reused: a subscriber starting now must wait for seq 11, not re-read 1.
      expect(await repo.latestSeq()).toBe(10);
      await repo.save(makeEvent(11));
      expect(await repo.latestSeq()).toBe(11);
    });

    it('starts at 0 before anything was stored', async () => {
      const fresh = await backend.open();
      const empty = await EventRepository.open(fresh.db);
      expect(await empty.latestSeq()).toBe(0);
      await fresh.dispose();
    });
  });

  describe('attachEvidence', () => {
    it('adds refs later and replaces a ref of the same name', async () => {
      await repo.save(makeEvent(1), { evidenceRefs: [ref('snapshot')] });

      await repo.attachEvidence(makeEvent(1).id, [ref('clip', 'evidence/partial.mp4')]);
      const updated = await repo.attachEvidence(makeEvent(1).id, [
        { ...ref('clip', 'evidence/full.mp4'), sha256: SHA.toUpperCase() },
      ]);

      const expected = [ref('snapshot'), ref('clip', 'evidence/full.mp4')];
      expect(updated.evidenceRefs).toEqual(expected);
      expect((await repo.get(makeEvent(1).id))?.evidenceRefs).toEqual(expected);
    });

    it('says NOT_FOUND for an unknown event', async () => {
      await expectHistoryError(() => repo.attachEvidence('nope', [ref('clip')]), 'not-found', 'id');
    });
  });

  describe('sweep', () => {
    const classRows = async () =>
      (await db.db.get<{ n: number }>('SELECT count(*) AS n FROM event_classes'))!.n;

    it('deletes events older than the maximum age', async () => {
      await saveMany(10); // occurredAt 1_000_000 … 1_009_000
      const deleted = await repo.sweep({ maxAgeMs: 3_000, now: 1_010_000 });
      expect(deleted).toBe(7);
      expect(ids((await repo.list({ order: 'oldest-first' })).events)).toEqual(idsOf(8, 9, 10));
      // the class index went with them
      expect(await classRows()).toBe(3 * 2);
    });

    it("measures age from the repository's clock by default", async () => {
      await saveMany(5); // clock is now 1_005_000
      clock.advance(10_000);
      expect(await repo.sweep({ maxAgeMs: 12_500 })).toBe(3);
      expect(await repo.count()).toBe(2);
    });

    it('keeps only the newest maxCount events', async () => {
      await saveMany(10);
      expect(await repo.sweep({ maxCount: 4 })).toBe(6);
      expect(ids((await repo.list({ order: 'oldest-first' })).events)).toEqual(idsOf(7, 8, 9, 10));
      expect(await repo.sweep({ maxCount: 4 })).toBe(0);
      expect(await repo.sweep({ maxCount: 100 })).toBe(0);
    });

    it('applies both limits, and slices large deletions', async () => {
      repo = await EventRepository.open(db.db, clock, { sweepBatch: 100 });
      await saveMany(250);
      const now = clock.now();
      const run = jest.spyOn(db.db, 'run');
      // age keeps the last 220 (occurredAt >= now - 220 s), count then keeps 100
      expect(await repo.sweep({ maxAgeMs: 220_000, maxCount: 100, now })).toBe(150);
      // age: 30 in one short slice; count: 100, then 20, each its own statement
      const deletes = run.mock.calls.filter(([sql]) => sql.startsWith('DELETE FROM events'));
      expect(deletes).toHaveLength(3);
      run.mockRestore();
      expect(await repo.count()).toBe(100);
      expect((await repo.list({ order: 'oldest-first', pageSize: 1 })).events[0].seq).toBe(151);
      expect(await classRows()).toBe(100 * 2);
    });

    it('never reuses a seq, even after the newest events were swept', async () => {
      await saveMany(3);
      await repo.sweep({ maxCount: 0 });
      expect((await repo.save(makeEvent(99))).seq).toBe(4);
    });

    it('refuses negative limits', async () => {
      await expectHistoryError(() => repo.sweep({ maxCount: -1 }), 'invalid-argument', 'maxCount');
      await expectHistoryError(() => repo.sweep({ maxAgeMs: 1.5 }), 'invalid-argument', 'maxAgeMs');
    });
  });
});
