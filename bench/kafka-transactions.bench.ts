/**
 * What exactly-once read-process-write costs with kafkajs transactions, against the
 * at-least-once commit-after-publish that KafkaBus uses, on the same broker in the same run.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 npx ts-node -r tsconfig-paths/register --transpile-only \
 *     bench/kafka-transactions.bench.ts
 *
 * Each mode moves N messages of a realistic payload (a 0.1 s audio chunk, 12.8 kB) from an
 * input topic to an output topic, one message per unit of work like a stage handler does.
 */
import { randomUUID } from 'node:crypto';
import { type Consumer, Kafka, type Producer, logLevel } from 'kafkajs';
import { checkQuietMachine, machineLine, row, x, runBench } from './bench.support';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const COUNT = Number(process.env.BENCH_MESSAGES ?? 2000);
const PAYLOAD = Buffer.alloc(12_800, 7);
const kafka = new Kafka({ brokers: BROKERS, clientId: 'bench-tx', logLevel: logLevel.NOTHING });

async function topics(): Promise<{ input: string; output: string }> {
  const id = randomUUID().slice(0, 8);
  const input = `bench.tx.in.${id}`;
  const output = `bench.tx.out.${id}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [input, output].map((topic) => ({ topic, numPartitions: 1 })),
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < COUNT; i += 50) {
    const batch = Array.from({ length: Math.min(50, COUNT - i) }, (_, k) => ({
      key: 'stream',
      value: PAYLOAD,
      headers: { n: String(i + k) },
    }));
    await producer.send({ topic: input, messages: batch });
  }
  await producer.disconnect();
  return { input, output };
}

async function drain(
  consumer: Consumer,
  input: string,
  handle: (offset: string) => Promise<void>,
): Promise<number> {
  let done = 0;
  const started = process.hrtime.bigint();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  await consumer.subscribe({ topic: input, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      await handle(message.offset);
      if (++done === COUNT) finish();
    },
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await consumer.disconnect();
  return COUNT / seconds;
}

async function atLeastOnce(): Promise<number> {
  const { input, output } = await topics();
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `bench-alo-${randomUUID()}` });
  await consumer.connect();
  const rate = await drain(consumer, input, async (offset) => {
    await producer.send({ topic: output, acks: -1, messages: [{ key: 'stream', value: PAYLOAD }] });
    await consumer.commitOffsets([
      { topic: input, partition: 0, offset: (BigInt(offset) + 1n).toString() },
    ]);
  });
  await producer.disconnect();
  return rate;
}

async function exactlyOnce(): Promise<number> {
  const { input, output } = await topics();
  const group = `bench-eos-${randomUUID()}`;
  const producer = kafka.producer({
    transactionalId: `bench-${randomUUID()}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: group, readUncommitted: false });
  await consumer.connect();
  const rate = await drain(consumer, input, async (offset) => {
    const tx = await producer.transaction();
    try {
      await tx.send({ topic: output, acks: -1, messages: [{ key: 'stream', value: PAYLOAD }] });
      await tx.sendOffsets({
        consumerGroupId: group,
        topics: [
          {
            topic: input,
            partitions: [{ partition: 0, offset: (BigInt(offset) + 1n).toString() }],
          },
        ],
      });
      await tx.commit();
    } catch (error) {
      await tx.abort();
      throw error;
    }
  });
  await producer.disconnect();
  return rate;
}

async function main() {
  console.log(
    `kafka transactions bench: ${machineLine()}; ${COUNT} messages of ${PAYLOAD.length} bytes per mode`,
  );
  await checkQuietMachine();
  const alo = await atLeastOnce();
  const eos = await exactlyOnce();
  row('at-least-once (send, then commit offset)', `${alo.toFixed(0)} msg/s`);
  row('exactly-once (one transaction per message)', `${eos.toFixed(0)} msg/s`);
  row('exactly-once / at-least-once', x(eos / alo));
  console.log(
    `one stream at 5 fps + 10 audio chunks/s needs ~17 msg/s per stage hop: at-least-once serves ~${(alo / 17).toFixed(0)} streams per consumer, exactly-once ~${(eos / 17).toFixed(0)}`,
  );
}

runBench(main, { exit: true });
