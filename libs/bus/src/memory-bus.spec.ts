import { deadLetterTopic, type Topic } from '@app/contracts';
import type { BusMessage } from './bus.interface';
import { describeBusContract } from '../test/bus.contract';
import { MemoryBus } from './memory-bus';
import { murmur2, partitionFor } from './partitioner';

const topic: Topic<number> = { name: 'test.numbers' };

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(predicate()).toBe(true);
}

describe('MemoryBus', () => {
  it('reports its traffic: publishes, handling time, lag behind the end, dead letters', async () => {
    const observer = {
      published: jest.fn(),
      handled: jest.fn(),
      deadLettered: jest.fn(),
      lag: jest.fn(),
    };
    const bus = new MemoryBus({ partitions: 1, retryDelayMs: 1, observer });
    const gate = deferred();
    let handled = 0;
    await bus.subscribe(topic, 'g', async (m) => {
      if (m.value === 0) await gate.promise;
      if (m.value === 2) throw new Error('two is bad');
      handled++;
    });
    for (let i = 0; i < 3; i++) await bus.publish(topic, 'k', i);
    gate.resolve();
    await bus.idle();
    expect(handled).toBe(2);
    // The dead letter is published too, to a topic nobody reads: not counted as published.
    expect(observer.published.mock.calls).toEqual([
      [topic.name, undefined],
      [topic.name, undefined],
      [topic.name, undefined],
    ]);
    expect(observer.handled).toHaveBeenCalledTimes(3);
    expect(observer.handled).toHaveBeenCalledWith(topic.name, 'g', undefined, expect.any(Number));
    // Message 0 was handled while 1 and 2 waited behind it.
    expect(observer.lag.mock.calls.map((c) => c[3])).toEqual([2, 1, 0]);
    expect(observer.deadLettered).toHaveBeenCalledWith(topic.name, 'g', 'handler');
    await bus.close();
  });

  it('keeps per-key order and gives every group every message', async () => {
    const bus = new MemoryBus({ partitions: 3 });
    const seenA: string[] = [];
    const seenB: string[] = [];
    await bus.subscribe(topic, 'a', async (m) => void seenA.push(`${m.key}:${m.value}`));
    await bus.subscribe(topic, 'b', async (m) => void seenB.push(`${m.key}:${m.value}`));
    for (let i = 0; i < 20; i++) await bus.publish(topic, `k${i % 4}`, i);
    await until(() => seenA.length === 20 && seenB.length === 20);
    for (const key of ['k0', 'k1', 'k2', 'k3']) {
      const values = seenA
        .filter((s) => s.startsWith(`${key}:`))
        .map((s) => Number(s.split(':')[1]));
      expect(values).toEqual([...values].sort((x, y) => x - y));
    }
    expect(new Set(seenB)).toEqual(new Set(seenA));
    await bus.close();
  });

  it('hands a key to one message at a time and commits only after the handler resolves', async () => {
    const bus = new MemoryBus({ partitions: 1, capacity: 2 });
    const gate = deferred();
    const started: number[] = [];
    await bus.subscribe(topic, 'g', async (m) => {
      started.push(m.value);
      if (m.value === 0) await gate.promise;
    });
    await bus.publish(topic, 'k', 0);
    await bus.publish(topic, 'k', 1);
    // Capacity 2 is reached by uncommitted messages: the third publish must wait.
    let thirdAccepted = false;
    const third = bus.publish(topic, 'k', 2).then(() => (thirdAccepted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual([0]);
    expect(thirdAccepted).toBe(false);
    gate.resolve();
    await third;
    await until(() => started.length === 3);
    expect(started).toEqual([0, 1, 2]);
    await bus.close();
  });

  it('retries a failing handler, then dead-letters the message with the reason and goes on', async () => {
    const bus = new MemoryBus({ partitions: 1, retryDelayMs: 1 });
    const attempts: number[] = [];
    const dead: BusMessage<unknown>[] = [];
    const handled: number[] = [];
    await bus.subscribe(deadLetterTopic(topic), 'dlq', async (m) => void dead.push(m));
    await bus.subscribe(
      topic,
      'g',
      async (m) => {
        attempts.push(m.value);
        if (m.value === 13) throw new Error('unlucky');
        handled.push(m.value);
      },
      { maxAttempts: 3 },
    );
    await bus.publish(topic, 'k', 13, { 'x-correlation-id': 'c1' });
    await bus.publish(topic, 'k', 14);
    await until(() => handled.includes(14) && dead.length === 1);
    expect(attempts.filter((v) => v === 13)).toHaveLength(3);
    expect(dead[0].headers).toMatchObject({
      'x-vigil-dlq-reason': 'unlucky',
      'x-vigil-dlq-source-topic': 'test.numbers',
      'x-correlation-id': 'c1',
    });
    await bus.close();
  });

  it('sees only what is published after subscribing and frees memory once all groups committed', async () => {
    const bus = new MemoryBus({ partitions: 1, capacity: 1 });
    // Nobody listens: publishing never blocks and nothing is kept.
    for (let i = 0; i < 100; i++) await bus.publish(topic, 'k', i);
    const seen: number[] = [];
    await bus.subscribe(topic, 'g', async (m) => void seen.push(m.value));
    for (let i = 0; i < 100; i++) await bus.publish(topic, 'k', i);
    await until(() => seen.length === 100);
    expect(seen[0]).toBe(0);
    await bus.close();
  });

  it('stops delivering after a subscription closes', async () => {
    const bus = new MemoryBus({ partitions: 1 });
    const seen: number[] = [];
    const subscription = await bus.subscribe(topic, 'g', async (m) => void seen.push(m.value));
    await bus.publish(topic, 'k', 1);
    await until(() => seen.length === 1);
    await subscription.close();
    await bus.publish(topic, 'k', 2);
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([1]);
    await bus.close();
  });
});

describe('partitionFor', () => {
  it('hashes keys exactly like Kafka (vectors from Kafka UtilsTest.testMurmur2)', () => {
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(
      -58897971,
    );
    expect(murmur2(Buffer.from('abc'))).toBe(479470107);
    expect(partitionFor('foobar', 6)).toBe((-790332482 & 0x7fffffff) % 6);
  });
});

describeBusContract('MemoryBus', async () => new MemoryBus({ retryDelayMs: 1 }), {
  timeoutMs: 2_000,
});
