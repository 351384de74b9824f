import { randomUUID } from 'node:crypto';
import type { Codec, Topic } from '@app/contracts';
import type { Bus, BusMessage, Release } from '../src/bus.interface';

export interface TestPayload {
  n: number;
  note?: string;
}

/** Test topics carry JSON, so the suite needs no .proto of its own. */
export const jsonCodec: Codec<TestPayload> = {
  typeName: 'test.json',
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (bytes) => {
    const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as TestPayload;
    if (typeof value.n !== 'number') throw new Error('n is not a number');
    return value;
  },
};

export function testTopic(label: string): Topic<TestPayload> {
  return { name: `test.${label}.${randomUUID().slice(0, 8)}` };
}

export async function eventually(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The Bus contract. The in-memory and the Kafka bus both run it, so a stage tested on one
 * behaves the same on the other.
 */
export function describeBusContract(
  name: string,
  open: () => Promise<Bus>,
  { timeoutMs }: { timeoutMs: number },
): void {
  describe(`${name}: the Bus contract`, () => {
    let bus: Bus;

    beforeEach(async () => {
      bus = await open();
    });
    afterEach(async () => {
      await bus.close();
    });

    it('keeps per-key order and gives every group every message', async () => {
      const topic = testTopic('order');
      const seen: Record<string, string[]> = { a: [], b: [] };
      for (const group of ['a', 'b']) {
        await bus.subscribe(topic, `${topic.name}.${group}`, async (m) => {
          seen[group].push(`${m.key}:${m.value.n}`);
        });
      }
      for (let i = 0; i < 40; i++) await bus.publish(topic, `key-${i % 5}`, { n: i });
      await eventually(() => seen.a.length === 40 && seen.b.length === 40, timeoutMs);
      for (let k = 0; k < 5; k++) {
        const values = seen.a
          .filter((s) => s.startsWith(`key-${k}:`))
          .map((s) => Number(s.split(':')[1]));
        expect(values).toEqual([...values].sort((x, y) => x - y));
        expect(values).toHaveLength(8);
      }
      expect([...seen.b].sort()).toEqual([...seen.a].sort());
    });

    it('a "latest" subscription is consuming once subscribe resolves: nothing published after it is missed', async () => {
      const topic = testTopic('latest');
      const seen: number[] = [];
      // Publishing once first creates the topic, so there is something to skip.
      await bus.publish(topic, 'k', { n: 0 });
      await bus.subscribe(topic, `${topic.name}.g`, async (m) => void seen.push(m.value.n), {
        startFrom: 'latest',
      });
      await bus.publish(topic, 'k', { n: 1 });
      await eventually(() => seen.includes(1), timeoutMs);
      expect(seen).toEqual([1]);
    });

    it('a "latest" group keeps its place once it joined: what is published while it is away is read when it returns', async () => {
      const topic = testTopic('latest-away');
      const group = `${topic.name}.g`;
      const seen: number[] = [];
      const handler = async (m: BusMessage<TestPayload>) => void seen.push(m.value.n);
      await bus.publish(topic, 'k', { n: 0 });
      // It leaves without having handled anything: only its start tells where it was.
      await (await bus.subscribe(topic, group, handler, { startFrom: 'latest' })).close();
      await bus.publish(topic, 'k', { n: 1 });
      await bus.subscribe(topic, group, handler, { startFrom: 'latest' });
      await bus.publish(topic, 'k', { n: 2 });
      await eventually(() => seen.includes(2), timeoutMs);
      expect(seen).toEqual([1, 2]);
    });

    it('carries headers, and a handler can publish onward (read-process-write)', async () => {
      const input = testTopic('in');
      const output = testTopic('out');
      const results: BusMessage<TestPayload>[] = [];
      await bus.subscribe(output, `${output.name}.g`, async (m) => void results.push(m));
      await bus.subscribe(input, `${input.name}.g`, async (m) => {
        await bus.publish(output, m.key, { n: m.value.n * 10 }, m.headers);
      });
      await bus.publish(input, 'stream-1', { n: 4 }, { 'x-correlation-id': 'corr-1' });
      await eventually(() => results.length === 1, timeoutMs);
      expect(results[0]).toMatchObject({ key: 'stream-1', value: { n: 40 } });
      expect(results[0].headers['x-correlation-id']).toBe('corr-1');
    });

    it('retries a failing handler, then dead-letters the message with the reason and goes on', async () => {
      const topic = testTopic('poison');
      const dlq: Topic<unknown> = { name: `${topic.name}.dlq` };
      const attempts: number[] = [];
      const handled: number[] = [];
      const dead: BusMessage<unknown>[] = [];
      await bus.subscribe(dlq, `${topic.name}.dlq-reader`, async (m) => void dead.push(m));
      await bus.subscribe(
        topic,
        `${topic.name}.g`,
        async (m) => {
          attempts.push(m.value.n);
          if (m.value.n === 13) throw new Error('thirteen is unlucky');
          handled.push(m.value.n);
        },
        { maxAttempts: 2 },
      );
      await bus.publish(topic, 'k', { n: 13 }, { 'x-correlation-id': 'c-13' });
      await bus.publish(topic, 'k', { n: 14 });
      await eventually(() => handled.includes(14) && dead.length === 1, timeoutMs);
      expect(attempts.filter((n) => n === 13)).toHaveLength(2);
      expect(dead[0].headers).toMatchObject({
        'x-vigil-dlq-reason': 'thirteen is unlucky',
        'x-vigil-dlq-source-topic': topic.name,
        'x-vigil-dlq-group': `${topic.name}.g`,
        'x-correlation-id': 'c-13',
      });
      expect(handled).toEqual([14]);
    });
    it('reads a held message again on the next subscription of its group, with every later one', async () => {
      const topic = testTopic('hold');
      const group = `${topic.name}.g`;
      const first: number[] = [];
      let subscription = await bus.subscribe(topic, group, async (m) => {
        first.push(m.value.n);
        if (m.value.n === 1) m.hold(); // never released: as if the process died holding it
      });
      for (const n of [1, 2, 3]) await bus.publish(topic, 'k', { n });
      await eventually(() => first.length === 3, timeoutMs);
      await subscription.close();

      const second: number[] = [];
      let held: Release | undefined;
      subscription = await bus.subscribe(topic, group, async (m) => {
        second.push(m.value.n);
        if (m.value.n === 1) held = m.hold();
        if (m.value.n === 3) held?.(); // what depended on 1 is published now
      });
      await bus.publish(topic, 'k', { n: 4 });
      await eventually(() => second.includes(4), timeoutMs);
      expect(second).toEqual([1, 2, 3, 4]);
      await subscription.close();

      const third: number[] = [];
      await bus.subscribe(topic, group, async (m) => void third.push(m.value.n));
      await bus.publish(topic, 'k', { n: 5 });
      await eventually(() => third.includes(5), timeoutMs);
      expect(third).toEqual([5]);
    });

    it('a group that comes back reads what was published while it was away; one that does not commit does not', async () => {
      const topic = testTopic('away');
      const seen: Record<string, number[]> = { committing: [], view: [] };
      const subscribeBoth = () =>
        Promise.all([
          bus.subscribe(topic, `${topic.name}.committing`, async (m) => {
            seen.committing.push(m.value.n);
          }),
          bus.subscribe(topic, `${topic.name}.view`, async (m) => void seen.view.push(m.value.n), {
            startFrom: 'latest',
            commits: false,
          }),
        ]);
      // Another group stays, as on any topic a pipeline uses.
      await bus.subscribe(topic, `${topic.name}.other`, async () => undefined);
      const first = await subscribeBoth();
      await bus.publish(topic, 'k', { n: 1 });
      await eventually(() => seen.committing.includes(1) && seen.view.includes(1), timeoutMs);
      await Promise.all(first.map((s) => s.close()));
      await bus.publish(topic, 'k', { n: 2 });
      await subscribeBoth();
      await bus.publish(topic, 'k', { n: 3 });
      await eventually(() => seen.committing.includes(3) && seen.view.includes(3), timeoutMs);
      expect(seen).toEqual({ committing: [1, 2, 3], view: [1, 3] });
    });

    it('a subscription closed while a message is in hand commits it once it is handled', async () => {
      const topic = testTopic('closing');
      const group = `${topic.name}.g`;
      let letGo!: () => void;
      const gate = new Promise<void>((resolve) => (letGo = resolve));
      const first: number[] = [];
      const subscription = await bus.subscribe(topic, group, async (m) => {
        first.push(m.value.n);
        await gate;
      });
      await bus.publish(topic, 'k', { n: 1 });
      await eventually(() => first.length === 1, timeoutMs);
      const closing = subscription.close();
      letGo();
      await closing;

      const second: number[] = [];
      await bus.subscribe(topic, group, async (m) => void second.push(m.value.n));
      await bus.publish(topic, 'k', { n: 2 });
      await eventually(() => second.includes(2), timeoutMs);
      expect({ first, second }).toEqual({ first: [1], second: [2] });
    });

    it('caughtUp resolves once everything published before it was handled', async () => {
      const topic = testTopic('caught-up');
      const seen: number[] = [];
      const subscription = await bus.subscribe(topic, `${topic.name}.g`, async (m) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        seen.push(m.value.n);
      });
      for (let n = 0; n < 12; n++) await bus.publish(topic, `key-${n % 4}`, { n });
      await subscription.caughtUp();
      expect([...seen].sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
    });

    it('says which partitions a subscriber owns before it hands it their messages', async () => {
      const topic = testTopic('assigned');
      const assignments: number[][] = [];
      const partitions: { partition: number; owned?: readonly number[] }[] = [];
      await bus.subscribe(
        topic,
        `${topic.name}.g`,
        async (m) => void partitions.push({ partition: m.partition, owned: assignments.at(-1) }),
        { onAssigned: (owned) => void assignments.push([...owned]) },
      );
      for (let n = 0; n < 12; n++) await bus.publish(topic, `key-${n}`, { n });
      await eventually(() => partitions.length === 12, timeoutMs);
      expect(new Set(partitions.map((p) => p.partition)).size).toBeGreaterThan(1);
      for (const { partition, owned } of partitions) expect(owned).toContain(partition);
    });
  });
}
