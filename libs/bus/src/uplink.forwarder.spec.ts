import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskSpool, type SpooledRecord } from './disk.spool';
import { type UplinkSink, UplinkForwarder } from './uplink.forwarder';

/** A far side that refuses while `down`, and records what it accepted. */
class FlakySink implements UplinkSink {
  static accepted: number[] = [];
  static down = false;
  static made = 0;
  static closed = 0;
  constructor() {
    FlakySink.made += 1;
  }
  async send(records: readonly SpooledRecord[]): Promise<void> {
    if (FlakySink.down) throw new Error('connection refused');
    FlakySink.accepted.push(...records.map((r) => Number(r.headers.n)));
  }
  async close(): Promise<void> {
    FlakySink.closed += 1;
  }
}

describe('UplinkForwarder', () => {
  let dir: string;
  let spool: DiskSpool;
  let sleeps: number[];
  let states: boolean[];
  let delivered: number;
  let byTopic: Record<string, number>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'uplink-'));
    spool = await DiskSpool.open({ dir, maxBytes: 1024 * 1024, maxAgeMs: 3_600_000 });
    FlakySink.accepted = [];
    FlakySink.down = false;
    FlakySink.made = 0;
    FlakySink.closed = 0;
    sleeps = [];
    states = [];
    delivered = 0;
    byTopic = {};
  });
  afterEach(async () => {
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const forwarder = (batch = 3) =>
    new UplinkForwarder(spool, () => new FlakySink(), {
      batch,
      backoff: { initialMs: 100, maxMs: 400 },
      random: () => 1,
      // Instead of waiting: the link comes back after the third failed try.
      sleep: async (ms) => {
        sleeps.push(ms);
        if (sleeps.length === 3) FlakySink.down = false;
      },
      observer: {
        delivered: (n) => (delivered += n),
        deliveredTopic: (topic, n) => (byTopic[topic] = (byTopic[topic] ?? 0) + n),
        up: (up) => states.push(up),
        failed: () => undefined,
      },
    });
  const append = (n: number) =>
    spool.append({
      topic: n % 5 === 4 ? 'evidence' : 't',
      key: 'k',
      headers: { n: String(n) },
      value: new Uint8Array([n]),
    });

  it('delivers everything spooled, in order, and acknowledges it in the spool', async () => {
    const uplink = forwarder();
    uplink.start();
    for (let n = 0; n < 10; n++) await append(n);
    await uplink.drained();
    await uplink.stop();
    expect(FlakySink.accepted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(delivered).toBe(10);
    // Counted per topic as well: what an edge's evidence costs its uplink.
    expect(byTopic).toEqual({ t: 8, evidence: 2 });
    expect(spool.pending).toBe(0);
    expect(FlakySink.made).toBe(1);
  });

  it('keeps records while the link is down and sends them once, in order, when it returns', async () => {
    FlakySink.down = true;
    for (let n = 0; n < 7; n++) await append(n);
    const uplink = forwarder();
    uplink.start();
    await uplink.drained();
    for (let n = 7; n < 9; n++) await append(n);
    await uplink.drained();
    await uplink.stop();
    expect(FlakySink.accepted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // Backoff doubles up to its ceiling; a failed sink is closed and a fresh one made.
    expect(sleeps).toEqual([100, 200, 400]);
    expect(states.slice(0, 4)).toEqual([false, false, false, true]);
    expect(FlakySink.made).toBe(4);
    expect(FlakySink.closed).toBeGreaterThanOrEqual(3);
  });

  it('stops without waiting for a far side that stopped answering, keeping the batch spooled', async () => {
    for (let n = 0; n < 3; n++) await append(n);
    const hanging: UplinkSink = {
      send: () => new Promise(() => undefined),
      close: async () => undefined,
    };
    const uplink = new UplinkForwarder(spool, () => hanging);
    uplink.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await uplink.stop();
    expect(spool.pending).toBe(3);
  });

  it('leaves what it could not send in the spool for the next process', async () => {
    FlakySink.down = true;
    for (let n = 0; n < 4; n++) await append(n);
    const uplink = new UplinkForwarder(spool, () => new FlakySink(), {
      sleep: async (_ms, signal) => {
        if (!signal.aborted)
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
    });
    uplink.start();
    await new Promise((resolve) => setImmediate(resolve));
    await uplink.stop();
    expect(FlakySink.accepted).toEqual([]);
    expect(spool.pending).toBe(4);
  });
});
