import { MemoryBus } from '@app/bus';
import { EventRepository, IncidentActionRepository, type SqlDatabase } from '@app/history';
import { makeIncident } from '@app/testing/incident.factory';
import { postgresBackend, type OpenBackend } from '@app/testing/sql-backends';
import { WebhookReceiver } from '../test/webhook.receiver';
import { makeSubscription } from '../test/subscription.factory';
import { WebhookDispatcher } from './webhook.dispatcher';
import { WebhookOutbox } from './webhook.outbox';
import type { WebhookSubscription } from './webhook-subscription';

/**
 * Two replicas of central fusion sharing one PostgreSQL: each has its own connections and its
 * own repositories, as two processes would. Event ids are deterministic (libs/fusion's
 * event-id.ts), so both replicas deciding the same incident version write the same id.
 */
const pg = postgresBackend();

interface Replica {
  db: SqlDatabase;
  events: EventRepository;
  actions: IncidentActionRepository;
  outbox: WebhookOutbox;
}

async function replica(db: SqlDatabase): Promise<Replica> {
  return {
    db,
    events: await EventRepository.open(db),
    actions: await IncidentActionRepository.open(db),
    outbox: await WebhookOutbox.open(db),
  };
}

/** What the incident recorder does: the event and its deliveries in one transaction. */
async function record(
  r: Replica,
  n: number,
  subscriptions: WebhookSubscription[],
): Promise<boolean> {
  return r.db.transaction(async (tx) => {
    const event = makeIncident(n);
    const saved = await r.events.save(event, {}, tx);
    if (saved.inserted)
      await r.outbox.enqueue((await r.events.get(event.id, tx))!, subscriptions, tx);
    return saved.inserted;
  });
}

(pg ? describe : describe.skip)('replicas sharing PostgreSQL', () => {
  let open: OpenBackend;
  let a: Replica;
  let b: Replica;

  beforeEach(async () => {
    open = await pg!.open();
    a = await replica(open.db);
    b = await replica(await open.replica());
  });

  afterEach(() => open.dispose());

  it('stores an incident version both decide exactly once, with its deliveries queued once', async () => {
    const subs = [makeSubscription('soc'), makeSubscription('pager')];
    const ns = Array.from({ length: 40 }, (_, i) => i + 1);
    // Both write every version at the same moment, interleaved on their own connections.
    const inserted = await Promise.all(ns.flatMap((n) => [record(a, n, subs), record(b, n, subs)]));
    const rows = await open.db.all<{ id: string; n: number }>(
      'SELECT id, count(*) AS n FROM events GROUP BY id',
    );
    expect(rows).toHaveLength(ns.length);
    expect(rows.every((row) => row.n === 1)).toBe(true);
    // exactly one of each pair was told it inserted the row
    for (let i = 0; i < ns.length; i++) {
      expect([inserted[2 * i], inserted[2 * i + 1]].filter(Boolean)).toHaveLength(1);
    }
    expect(await a.outbox.pendingCount()).toBe(ns.length * subs.length);
    expect(await b.outbox.pendingBySubscription()).toEqual(
      new Map([
        ['pager', ns.length],
        ['soc', ns.length],
      ]),
    );
    const seqs = (await a.events.after(0, {}, 500)).map((s) => s.seq);
    expect(new Set(seqs).size).toBe(ns.length);
  });

  it('commits seqs in the order they are drawn, so a reader resuming after seq n skips nothing', async () => {
    let saved!: () => void;
    const firstSaved = new Promise<void>((resolve) => (saved = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // Replica a draws seq 1 and holds its transaction open (evidence late, a slow disk).
    const first = a.db.transaction(async (tx) => {
      const result = await a.events.save(makeIncident(1), {}, tx);
      saved();
      await held;
      return result;
    });
    await firstSaved;
    let secondDone = false;
    const second = b.events.save(makeIncident(2)).then((result) => {
      secondDone = true;
      return result;
    });
    // Round trips on a third connection: b's save has had every chance to commit by now.
    for (let i = 0; i < 10; i++) await open.db.get('SELECT 1 AS one');
    expect(secondDone).toBe(false);
    expect(await open.db.all('SELECT seq FROM events')).toEqual([]);
    release();
    const [one, two] = await Promise.all([first, second]);
    expect(two.seq).toBeGreaterThan(one.seq);
    expect((await b.events.after(0)).map((s) => s.seq)).toEqual([one.seq, two.seq]);
  });

  it('gives a claim on one delivery to exactly one replica', async () => {
    const soc = makeSubscription('soc');
    await record(a, 1, [soc]);
    const [row] = await a.outbox.due('soc', Date.now(), 1);
    // both read the row as due, then both claim it
    const [fromB] = await b.outbox.due('soc', Date.now(), 1);
    const claims = await Promise.all([
      a.outbox.claim(row!, 60_000),
      b.outbox.claim(fromB!, 60_000),
    ]);
    expect(claims.filter((c) => c !== undefined)).toEqual([1]);
    // leased: neither sees it due again while the winner's attempt runs
    expect(await a.outbox.due('soc', Date.now(), 1)).toEqual([]);
    expect(await b.outbox.due('soc', Date.now(), 1)).toEqual([]);
  });

  it('delivers every webhook once with a dispatcher on each replica', async () => {
    const receiver = await WebhookReceiver.start('replica-secret-0123456', () => ({
      status: 200,
      delayMs: 5,
    }));
    const soc = makeSubscription('soc', {
      url: receiver.url,
      secret: receiver.secret,
      concurrency: 4,
    });
    const bus = new MemoryBus();
    const dispatchers = [a, b].map(
      (r) => new WebhookDispatcher({ outbox: r.outbox, subscriptions: [soc], bus }),
    );
    try {
      for (const d of dispatchers) d.start();
      const count = 60;
      for (let n = 1; n <= count; n++) {
        await record(n % 2 ? a : b, n, [soc]);
        for (const d of dispatchers) d.notify();
      }
      const deadline = Date.now() + 30_000;
      while ((await a.outbox.pendingCount()) > 0) {
        if (Date.now() > deadline) throw new Error('deliveries still pending after 30 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const ids = receiver.requests.map((r) => r.headers['x-vigil-delivery-id']);
      expect(ids).toHaveLength(count);
      expect(new Set(ids).size).toBe(count);
      expect(receiver.requests.every((r) => r.verified && r.attempt === 1)).toBe(true);
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
      await bus.close();
      await receiver.close();
    }
  });

  it('lets one of two consoles acknowledge an incident, the other gets a conflict', async () => {
    const ns = Array.from({ length: 10 }, (_, i) => i + 1);
    for (const n of ns) await record(a, n, []);
    const races = await Promise.all(
      ns.map((n) =>
        Promise.allSettled(
          [a, b].map((r, k) =>
            r.actions.record({
              incidentId: makeIncident(n).incidentId,
              action: 'acknowledge',
              actor: `console-${k}`,
              role: 'operator',
            }),
          ),
        ),
      ),
    );
    for (const results of races) {
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({
        reason: { code: 'conflict' },
      });
    }
    for (const n of ns) {
      expect(await b.actions.forIncident(makeIncident(n).incidentId)).toHaveLength(1);
    }
  });
});
