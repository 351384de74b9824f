import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import {
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type IHeaders,
  Kafka,
  type LogEntry,
  Partitioners,
  type Producer,
  type ProducerConfig,
  logLevel,
} from 'kafkajs';

/**
 * The real Kafka broker that development and CI run (scripts/kafka.sh, see DESIGN.md "Kafka for
 * development and CI"), driven through kafkajs: the operations Vigil relies on must work against
 * the pinned broker version. Needs a running broker at KAFKA_BROKERS (default 127.0.0.1:9092).
 */

jest.setTimeout(90_000);

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const RUN = `vigil-e2e-broker-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
const PARTITIONS = 6;

// kafkajs logs retriable errors (coordinator loading, rebalances) at ERROR level; keep them out
// of the test output but show the recent ones when a wait times out.
const LEVELS: Record<number, string> = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' };
const kafkaLog: string[] = [];
const logCreator = () => (entry: LogEntry) => {
  const { message, error } = entry.log as { message: string; error?: string };
  kafkaLog.push(
    `${LEVELS[entry.level]} ${entry.namespace}: ${message}${error ? ` (${error})` : ''}`,
  );
  if (kafkaLog.length > 200) kafkaLog.shift();
};

const kafka = new Kafka({
  clientId: 'vigil-broker-e2e',
  brokers: BROKERS,
  logLevel: logLevel.WARN,
  logCreator,
  connectionTimeout: 3_000,
  retry: { retries: 8, initialRetryTime: 100 },
});

const open: Array<{ disconnect(): Promise<void> }> = [];
let admin: Admin;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last kafkajs log lines:\n` +
          kafkaLog.slice(-15).join('\n'),
      );
    }
    await sleep(50);
  }
}

function tcpReachable(broker: string): Promise<boolean> {
  const i = broker.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(2_000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
    socket.connect(Number(broker.slice(i + 1)), broker.slice(0, i));
  });
}

async function producer(config: ProducerConfig = {}): Promise<Producer> {
  const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...config });
  await p.connect();
  open.push(p);
  return p;
}

async function consumer(groupId: string, config: Partial<ConsumerConfig> = {}): Promise<Consumer> {
  const c = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 200, // short fetch long-polls: quick rebalances and disconnects in tests
    heartbeatInterval: 300,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    ...config,
  });
  await c.connect();
  open.push(c);
  return c;
}

async function close(client: { disconnect(): Promise<void> }) {
  open.splice(open.indexOf(client), 1);
  await client.disconnect();
}

let topicCount = 0;
async function createTopic(): Promise<string> {
  const topic = `${RUN}-${++topicCount}`;
  const created = await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
  });
  expect(created).toBe(true);
  return topic;
}

const text = (b: Buffer | null | undefined) => (b == null ? null : b.toString());
const header = (headers: IHeaders | undefined, name: string) =>
  text(headers?.[name] as Buffer | undefined);
const committedSum = (offsets: Array<{ offset: string }>) =>
  offsets.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);

beforeAll(async () => {
  const reachable = await Promise.all(BROKERS.map(tcpReachable));
  if (!reachable.some(Boolean)) {
    throw new Error(
      `No Kafka broker answers at ${BROKERS.join(',')} (KAFKA_BROKERS): ` +
        'start one with scripts/kafka.sh start',
    );
  }
  admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `The Kafka broker at ${BROKERS.join(',')} accepts connections but kafkajs cannot talk to ` +
        `it (${(error as Error).message}); restart it with scripts/kafka.sh stop && scripts/kafka.sh start`,
    );
  }
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.disconnect()));
});

afterAll(async () => {
  if (!admin) return;
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(RUN));
  if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 10_000 }).catch(() => {});
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
  const myGroups = groups.filter((g) => g.startsWith(RUN));
  if (myGroups.length > 0) await admin.deleteGroups(myGroups).catch(() => []);
  await admin.disconnect();
});

describe('the development/CI Kafka broker through kafkajs', () => {
  it('answers metadata: one broker, KRaft cluster id', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('creates a topic with 6 partitions, each led by the broker', async () => {
    const topic = await createTopic();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0].partitions).toHaveLength(PARTITIONS);
    for (const p of topics[0].partitions) expect(p.leader).toBeGreaterThanOrEqual(0);
    expect(await admin.listTopics()).toContain(topic);
  });

  it('produces keyed messages with headers; a key stays on one partition, in order', async () => {
    const topic = await createTopic();
    const p = await producer({ idempotent: true });
    const keys = Array.from({ length: 12 }, (_, i) => `camera-${i}`);
    const messages = Array.from({ length: 120 }, (_, i) => ({
      key: keys[i % keys.length],
      value: JSON.stringify({ seq: i }),
      headers: { 'x-trace-id': `trace-${i}`, 'x-kind': 'audio' },
    }));
    const acks = await p.send({ topic, acks: -1, messages });
    expect(acks.length).toBeGreaterThan(1); // one ack per partition written

    const got: Array<{
      partition: number;
      key: string;
      seq: number;
      trace: string | null;
      kind: string | null;
    }> = [];
    const c = await consumer(`${topic}.read`);
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        got.push({
          partition,
          key: text(message.key)!,
          seq: JSON.parse(text(message.value)!).seq,
          trace: header(message.headers, 'x-trace-id'),
          kind: header(message.headers, 'x-kind'),
        });
      },
    });
    await waitFor('all 120 messages', () => got.length >= messages.length);

    expect(got).toHaveLength(messages.length);
    for (const m of got) expect([m.trace, m.kind]).toEqual([`trace-${m.seq}`, 'audio']);
    for (const key of keys) {
      const ofKey = got.filter((m) => m.key === key);
      expect(new Set(ofKey.map((m) => m.partition)).size).toBe(1);
      const seqs = ofKey.map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it('shares the partitions between two members of a group after a rebalance', async () => {
    const topic = await createTopic();
    const group = `${topic}.group`;
    const assigned: Record<'a' | 'b', number[]> = { a: [], b: [] };
    const seen: Record<'a' | 'b', Array<{ partition: number; key: string }>> = { a: [], b: [] };
    const member = async (name: 'a' | 'b') => {
      const c = await consumer(group);
      c.on(c.events.GROUP_JOIN, (e) => {
        assigned[name] = [...(e.payload.memberAssignment[topic] ?? [])].sort((x, y) => x - y);
      });
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({
        eachMessage: async ({ partition, message }) => {
          seen[name].push({ partition, key: text(message.key)! });
        },
      });
      return c;
    };

    await member('a');
    await waitFor('the first member to own all partitions', () => assigned.a.length === PARTITIONS);
    await member('b');
    await waitFor(
      'the rebalance to split the partitions between both members',
      () => assigned.b.length > 0 && assigned.a.length + assigned.b.length === PARTITIONS,
    );
    expect(assigned.a.filter((p) => assigned.b.includes(p))).toEqual([]);
    expect([...assigned.a, ...assigned.b].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(assigned.a).toHaveLength(3);

    const p = await producer();
    const messages = Array.from({ length: 60 }, (_, i) => ({ key: `stream-${i}`, value: `${i}` }));
    await p.send({ topic, messages });
    await waitFor('both members to consume', () => seen.a.length + seen.b.length >= 60);

    expect(seen.a.length).toBeGreaterThan(0);
    expect(seen.b.length).toBeGreaterThan(0);
    for (const m of seen.a) expect(assigned.a).toContain(m.partition);
    for (const m of seen.b) expect(assigned.b).toContain(m.partition);
    expect(new Set([...seen.a, ...seen.b].map((m) => m.key)).size).toBe(60);
  });

  it('commits offsets and resumes from them after reconnecting', async () => {
    const topic = await createTopic();
    const group = `${topic}.resume`;
    const p = await producer();
    await p.send({
      topic,
      messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 7}`, value: `before-${i}` })),
    });

    const first: string[] = [];
    const c1 = await consumer(group);
    await c1.subscribe({ topic, fromBeginning: true });
    await c1.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        first.push(text(message.value)!);
        const next = (BigInt(message.offset) + 1n).toString();
        await c1.commitOffsets([{ topic: t, partition, offset: next }]);
      },
    });
    await waitFor('the first pass', () => first.length >= 30);
    await close(c1);

    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    expect(committedSum(committed.partitions)).toBe(30);
    const ends = await admin.fetchTopicOffsets(topic);
    for (const end of ends) {
      const c = committed.partitions.find((x) => x.partition === end.partition)!;
      expect(Math.max(0, Number(c.offset))).toBe(Number(end.high));
    }

    await p.send({
      topic,
      messages: [
        { key: 'k1', value: 'after-1' },
        { key: 'k2', value: 'after-2' },
        { key: 'k3', value: 'after-3' },
      ],
    });
    const second: string[] = [];
    const c2 = await consumer(group);
    await c2.subscribe({ topic, fromBeginning: true }); // committed offsets win over fromBeginning
    await c2.run({ eachMessage: async ({ message }) => void second.push(text(message.value)!) });
    await waitFor('the messages produced while disconnected', () => second.length >= 3);
    await sleep(500); // nothing already committed may be replayed
    expect(second.sort()).toEqual(['after-1', 'after-2', 'after-3']);
  });

  it('runs exactly-once read-process-write: transactional producer with sendOffsets', async () => {
    const input = await createTopic();
    const output = await createTopic();
    const group = `${input}.eos`;
    const seed = await producer({ idempotent: true });
    await seed.send({
      topic: input,
      acks: -1,
      messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `${i}` })),
    });

    const tx = await producer({
      transactionalId: `${input}.tx`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    let processed = 0;
    const worker = await consumer(group, { readUncommitted: false });
    await worker.subscribe({ topic: input, fromBeginning: true });
    await worker.run({
      autoCommit: false, // the input offsets are committed only inside the transactions
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        const transaction = await tx.transaction();
        try {
          await transaction.send({
            topic: output,
            messages: batch.messages.map((m) => ({
              key: m.key,
              value: `processed-${text(m.value)}`,
              headers: { 'x-source-offset': m.offset },
            })),
          });
          const last = batch.messages[batch.messages.length - 1];
          await transaction.sendOffsets({
            consumerGroupId: group,
            topics: [
              {
                topic: batch.topic,
                partitions: [
                  { partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
                ],
              },
            ],
          });
          await transaction.commit();
        } catch (error) {
          await transaction.abort();
          throw error;
        }
        for (const m of batch.messages) resolveOffset(m.offset);
        processed += batch.messages.length;
        await heartbeat();
      },
    });
    await waitFor('the 20 input messages to be processed', () => processed >= 20);
    await close(worker);

    // An aborted transaction: written to the log, never visible to read_committed consumers.
    const aborted = await tx.transaction();
    await aborted.send({ topic: output, messages: [{ key: 'k0', value: 'aborted' }] });
    await aborted.abort();

    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [input] });
    expect(committedSum(offsets.partitions)).toBe(20);

    const readOutput = async (readUncommitted: boolean) => {
      const values: string[] = [];
      const c = await consumer(`${output}.${readUncommitted ? 'uncommitted' : 'committed'}`, {
        readUncommitted,
      });
      await c.subscribe({ topic: output, fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => void values.push(text(message.value)!) });
      const expected = readUncommitted ? 21 : 20;
      await waitFor(
        `${expected} output records (readUncommitted=${readUncommitted})`,
        () => values.length >= expected,
      );
      await sleep(500);
      await close(c);
      return values;
    };
    const committed = await readOutput(false);
    expect(committed).toHaveLength(20);
    expect(committed).not.toContain('aborted');
    expect(new Set(committed)).toEqual(
      new Set(Array.from({ length: 20 }, (_, i) => `processed-${i}`)),
    );
    // The aborted record is really in the log: only the isolation level hides it.
    expect(await readOutput(true)).toContain('aborted');
  });
});
