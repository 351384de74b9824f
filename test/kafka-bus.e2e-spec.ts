import {
  type Codec,
  type Topic,
  Topics,
  type WebhookDeadLetter,
  codecFor,
  deadLetterTopic,
} from '@app/contracts';
import { KafkaBus } from '@app/bus';
import { requireKafka } from '@app/testing/kafka';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import {
  type TestPayload,
  describeBusContract,
  eventually,
  jsonCodec,
  testTopic,
} from '../libs/bus/test/bus.contract';

jest.setTimeout(90_000);

const codecs = <T>(topic: Topic<T>): Codec<T> =>
  (topic.name.startsWith('test.') ? jsonCodec : codecFor(topic)) as unknown as Codec<T>;

let brokers: string[];

beforeAll(async () => {
  brokers = await requireKafka();
});

function openBus(clientId = `test-${randomUUID().slice(0, 6)}`) {
  return new KafkaBus({ brokers, clientId, partitions: 3, codecs, retryDelayMs: 20 });
}

describeBusContract('KafkaBus', async () => openBus(), { timeoutMs: 30_000 });

describe('KafkaBus on a real broker', () => {
  it('lets consumers of one group share the partitions', async () => {
    const topic = testTopic('share');
    const group = `${topic.name}.g`;
    const a = openBus();
    const b = openBus();
    const seen: Record<string, Set<number>> = { a: new Set(), b: new Set() };
    try {
      await a.subscribe(topic, group, async (m) => void seen.a.add(m.partition));
      await b.subscribe(topic, group, async (m) => void seen.b.add(m.partition));
      let published = 0;
      let total = 0;
      const count = () => seen.a.size + seen.b.size;
      // Keep publishing across keys until the rebalance settles and both members got work.
      await eventually(() => {
        if (seen.a.size > 0 && seen.b.size > 0) return true;
        for (let i = 0; i < 12; i++) void a.publish(topic, `stream-${published++}`, { n: total++ });
        return false;
      }, 60_000);
      expect(count()).toBeGreaterThanOrEqual(2);
      const overlap = [...seen.a].filter((p) => seen.b.has(p));
      expect(overlap.length).toBeLessThanOrEqual(1); // at most one partition moved during the rebalance
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a "latest" group loses nothing while its members come and go before it handled anything', async () => {
    const topic = testTopic('latest-members');
    const group = `${topic.name}.g`;
    const a = openBus();
    const b = openBus();
    const seen = new Set<number>();
    const handler = async (m: { value: { n: number } }) => void seen.add(m.value.n);
    try {
      await a.publish(topic, 'before', { n: -1 });
      // Two members of a new group subscribe at once (replicas starting together).
      const [first] = await Promise.all([
        a.subscribe(topic, group, handler, { startFrom: 'latest' }),
        b.subscribe(topic, group, handler, { startFrom: 'latest' }),
      ]);
      for (let n = 0; n < 12; n++) await a.publish(topic, `key-${n}`, { n });
      // One leaves: the other takes its partitions over, on whatever place the group holds.
      await first.close();
      for (let n = 12; n < 24; n++) await a.publish(topic, `key-${n}`, { n });
      await eventually(() => seen.size >= 24, 60_000);
      expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: 24 }, (_, n) => n));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('dead-letters bytes that are not the topic protobuf, with the reason, and goes on', async () => {
    const bus = openBus();
    const raw = new Kafka({
      brokers,
      clientId: 'raw-producer',
      logLevel: logLevel.NOTHING,
    }).producer();
    try {
      await bus.connect([Topics.streamCommands]);
      await raw.connect();
      const dead: { reason: string; value: Buffer }[] = [];
      const commands: string[] = [];
      const group = `poison-${randomUUID().slice(0, 6)}`;
      await bus.subscribe(deadLetterTopic(Topics.streamCommands), `${group}.dlq`, async (m) => {
        dead.push({ reason: m.headers['x-vigil-dlq-reason'], value: Buffer.from(m.value) });
      });
      const garbage = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff]);
      await raw.send({
        topic: Topics.streamCommands.name,
        messages: [{ key: 'x', value: garbage }],
      });
      const id = `s-${randomUUID().slice(0, 6)}`;
      await bus.publish(Topics.streamCommands, id, { streamId: id, action: 'stop' });
      await bus.subscribe(
        Topics.streamCommands,
        group,
        async (m) => void commands.push(m.value.streamId),
      );
      await eventually(() => commands.includes(id), 30_000);
      await eventually(() => dead.some((d) => d.value.equals(garbage)), 30_000);
      expect(dead.find((d) => d.value.equals(garbage))!.reason).toMatch(
        /^cannot decode vigil\.v1\.StreamCommand/,
      );
    } finally {
      await raw.disconnect();
      await bus.close();
    }
  });

  it('resumes a group from its committed offset after a restart (nothing lost, nothing redone)', async () => {
    const topic = testTopic('resume');
    const group = `${topic.name}.g`;
    const first: number[] = [];
    const bus1 = openBus();
    const sub = await bus1.subscribe(topic, group, async (m) => void first.push(m.value.n));
    for (let i = 0; i < 5; i++) await bus1.publish(topic, 'k', { n: i });
    await eventually(() => first.length === 5, 30_000);
    await sub.close();
    for (let i = 5; i < 10; i++) await bus1.publish(topic, 'k', { n: i });
    await bus1.close();

    const second: number[] = [];
    const bus2 = openBus();
    try {
      await bus2.subscribe(topic, group, async (m) => void second.push(m.value.n));
      await eventually(() => second.length >= 5, 30_000);
      expect(second).toEqual([5, 6, 7, 8, 9]);
    } finally {
      await bus2.close();
    }
  });

  it('commits what it handled when the whole bus closes, a message in hand included', async () => {
    const topic = testTopic('bus-close');
    const group = `${topic.name}.g`;
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    const first: number[] = [];
    const bus1 = openBus();
    await bus1.subscribe(topic, group, async (m) => {
      first.push(m.value.n);
      if (m.value.n === 2) await gate;
    });
    for (const n of [0, 1, 2]) await bus1.publish(topic, 'k', { n });
    await eventually(() => first.length === 3, 30_000);
    const closing = bus1.close();
    letGo();
    await closing;

    const second: number[] = [];
    const bus2 = openBus();
    try {
      await bus2.subscribe(topic, group, async (m) => void second.push(m.value.n));
      await bus2.publish(topic, 'k', { n: 3 });
      await eventually(() => second.includes(3), 30_000);
      expect(second).toEqual([3]);
    } finally {
      await bus2.close();
    }
  });

  it('carries webhook dead letters as their protobuf, though the topic name ends in .dlq', async () => {
    const bus = openBus();
    const letter: WebhookDeadLetter = {
      subscriptionId: 'soc',
      url: 'https://hooks.example.com/vigil',
      eventId: `e-${randomUUID()}`,
      attempts: 8,
      reason: 'HTTP 503, gave up after 8 attempts',
      lastStatus: 503,
      body: new TextEncoder().encode('{"type":"vigil.incident"}'),
      failedAtMs: Date.UTC(2026, 0, 1),
      deliveryId: '3f2d6c1e-8a4b-5c7d-9e0f-1a2b3c4d5e6f',
    };
    const seen: { value: WebhookDeadLetter; headers: Record<string, string> }[] = [];
    try {
      await bus.connect([Topics.webhookDeadLetters]);
      await bus.subscribe(
        Topics.webhookDeadLetters,
        `dlq-${randomUUID().slice(0, 6)}`,
        async (m) => {
          if (m.value.eventId === letter.eventId) seen.push({ value: m.value, headers: m.headers });
        },
      );
      await bus.publish(Topics.webhookDeadLetters, letter.subscriptionId, letter, {
        'x-vigil-dlq-reason': letter.reason,
      });
      await eventually(() => seen.length === 1, 30_000);
      expect(seen[0].value).toEqual(letter);
      expect(seen[0].headers['x-vigil-dlq-reason']).toBe(letter.reason);
    } finally {
      await bus.close();
    }
  });

  it('keeps one status per stream (compacted), forgetting streams silent for the retention', async () => {
    const week = 7 * 24 * 3_600_000;
    const bus = new KafkaBus({
      brokers,
      clientId: `test-${randomUUID().slice(0, 6)}`,
      codecs,
      retentionMs: { [Topics.streamStatus.name]: week },
    });
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    try {
      await bus.connect([Topics.streamStatus, Topics.fusionState]);
      await admin.connect();
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [Topics.streamStatus, Topics.fusionState].map((t) => ({
          type: 2, // TOPIC
          name: t.name,
          configNames: ['cleanup.policy', 'retention.ms', 'segment.ms'],
        })),
      });
      const config = Object.fromEntries(
        described.resources.map((r) => [
          r.resourceName,
          Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
        ]),
      );
      expect(config[Topics.streamStatus.name]).toEqual({
        'cleanup.policy': 'compact,delete',
        'retention.ms': String(week),
        'segment.ms': '3600000',
      });
      expect(config[Topics.fusionState.name]).toMatchObject({
        'cleanup.policy': 'compact',
        'segment.ms': '3600000',
      });
    } finally {
      await admin.disconnect();
      await bus.close();
    }
  });
});

export type { TestPayload };
