import {
  COMPACTED_SEGMENT_MS,
  COMPACTED_TOPICS,
  type Codec,
  type Topic,
  Topics,
  codecFor,
  deadLetterTopic,
} from '@app/contracts';
import {
  type Admin,
  type Consumer,
  type EachMessagePayload,
  type IHeaders,
  Kafka,
  type KafkaConfig,
  type KafkaMessage,
  logLevel,
  type Producer,
} from 'kafkajs';
import type {
  Bus,
  BusObserver,
  Headers,
  MessageHandler,
  SubscribeOptions,
  Subscription,
} from './bus.interface';
import { ConsumerOffsets, type PartitionOffset } from './consumer.offsets';
import { retryRetriable } from './kafka.retry';
import { handleInContext } from './message.context';
import { StartPositions } from './start.positions';

export interface BusLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Partitions of topics this bus creates; scaling out means more partitions and replicas. */
  partitions?: number;
  replicationFactor?: number;
  /** Retention per topic name, in ms; topics not named keep the broker's default. */
  retentionMs?: Record<string, number>;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    password: string;
  };
  ssl?: boolean;
  /** PEM certificates of a private CA the brokers' certificates chain to (with ssl). */
  sslCa?: string;
  /** Partitions a consumer works on at once: lets inference batch across streams. */
  partitionsConsumedConcurrently?: number;
  retryDelayMs?: number;
  /** How long subscribe waits for the consumer to join its group and fetch (default 60 s). */
  joinTimeoutMs?: number;
  /** Retries of a failed request or connection (exponential from 200 ms); services keep the default 8. */
  retries?: number;
  /** Codec per topic; defaults to the protobuf codecs of the Vigil topics. */
  codecs?: <T>(topic: Topic<T>) => Codec<T>;
  logger?: BusLogger;
  observer?: BusObserver;
}

/** A message whose payload is already encoded, published as is. */
export interface EncodedMessage {
  topic: string;
  key: string;
  value: Uint8Array;
  headers: Headers;
}

/** The broker cannot be reached: a deployment problem, not a message problem. */
export class BusUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BusUnavailableError';
  }
}

const RAW_CODEC: Codec<Uint8Array> = {
  typeName: 'bytes',
  encode: (value) => value,
  decode: (bytes) => bytes,
};

const CONTRACT_TOPICS = new Set(Object.values(Topics).map((topic) => topic.name));

export const DLQ_REASON = 'x-vigil-dlq-reason';
export const DLQ_SOURCE_TOPIC = 'x-vigil-dlq-source-topic';
export const DLQ_SOURCE_PARTITION = 'x-vigil-dlq-source-partition';
export const DLQ_SOURCE_OFFSET = 'x-vigil-dlq-source-offset';
/** The consumer group that gave up: two groups on one topic dead-letter their own copies. */
export const DLQ_GROUP = 'x-vigil-dlq-group';

/**
 * The Bus on Apache Kafka. Payloads are the protobuf messages of `protos/`, keyed by stream id.
 * A consumer commits a message's offset only after its handler (and so everything the handler
 * published) succeeded: a crash replays, never loses. A message that cannot be decoded, or whose
 * handler keeps failing, goes to `<topic>.dlq` with the reason in headers and the consumer
 * moves on.
 */
export class KafkaBus implements Bus {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  /** Each running consumer, with how to close it (last commits first). */
  private readonly consumers = new Map<Consumer, () => Promise<void>>();
  private readonly ensured = new Set<string>();
  private readonly codecs: <T>(topic: Topic<T>) => Codec<T>;
  private connected?: Promise<void>;

  constructor(private readonly options: KafkaBusOptions) {
    const config: KafkaConfig = {
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        // kafkajs logs every retriable error response (e.g. while a new topic elects its
        // leader) before retrying it; a failure that matters surfaces as an exception.
        if (entry.namespace === 'Connection' && entry.log.message.startsWith('Response ')) return;
        const text = `kafka ${entry.namespace}: ${entry.log.message}`;
        if (entry.level <= logLevel.ERROR) options.logger?.error(text);
        else if (entry.level === logLevel.WARN) options.logger?.warn(text);
      },
      retry: { retries: options.retries ?? 8, initialRetryTime: 200 },
      ...(options.sasl ? { sasl: options.sasl as KafkaConfig['sasl'] } : {}),
      ...(options.ssl ? { ssl: options.sslCa ? { ca: [options.sslCa] } : true } : {}),
    };
    this.kafka = new Kafka(config);
    // Idempotent producer: broker-side dedup of retried sends, so a retry cannot reorder or
    // duplicate a stream's messages.
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.admin = this.kafka.admin();
    const codecs = options.codecs ?? codecFor;
    // Dead-letter topics carry the original bytes: they may be exactly what failed to decode.
    // A contract topic named like one (vigil.webhooks.dlq) has a protobuf of its own.
    this.codecs = <T>(topic: Topic<T>) =>
      topic.name.endsWith('.dlq') && !CONTRACT_TOPICS.has(topic.name)
        ? (RAW_CODEC as unknown as Codec<T>)
        : codecs(topic);
  }

  /** Connects and creates every Vigil topic and its dead-letter topic. */
  async connect(topics: Topic<unknown>[] = Object.values(Topics)): Promise<void> {
    this.connected ??= (async () => {
      try {
        await this.admin.connect();
        await this.producer.connect();
      } catch (error) {
        this.connected = undefined;
        throw new BusUnavailableError(
          `cannot reach Kafka at ${this.options.brokers.join(',')}: ${errorText(error)}`,
        );
      }
    })();
    await this.connected;
    await this.ensureTopics(topics.flatMap((t) => [t.name, deadLetterTopic(t).name]));
  }

  async publish<T>(topic: Topic<T>, key: string, value: T, headers: Headers = {}): Promise<void> {
    await this.connect([topic]);
    const bytes = Buffer.from(this.encode(topic, value));
    await this.producer.send({
      topic: topic.name,
      acks: -1,
      messages: [{ key, value: bytes, headers }],
    });
    this.options.observer?.published(topic.name, bytes.length);
  }

  /**
   * Publishes messages already encoded (an edge's spool draining upstream) in one request, in
   * their order; resolves once the broker accepted every one of them.
   */
  async publishEncoded(messages: readonly EncodedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.connect([]);
    // Only the topics written: an edge's principal may describe those and nothing else (not
    // even their dead-letter topics, which central consumers write).
    await this.ensureTopics([...new Set(messages.map((m) => m.topic))]);
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Headers }[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: Buffer.from(m.value), headers: m.headers });
      byTopic.set(m.topic, list);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
    });
    for (const m of messages) this.options.observer?.published(m.topic, m.value.length);
  }

  async subscribe<T>(
    topic: Topic<T>,
    group: string,
    handler: MessageHandler<T>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    await this.connect([topic]);
    const groupIdFor = kafkaGroupId(group, topic.name);
    const consumer = this.kafka.consumer({
      // One Kafka group per (stage, topic): members of a Kafka group must share one
      // subscription, and a stage consumes each of its topics on its own consumer.
      groupId: groupIdFor,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 20_000,
      maxWaitTimeInMs: 50,
    });
    const commits = options.commits ?? true;
    const observer = this.options.observer;
    const start =
      options.startFrom === 'latest' ? new StartPositions(await this.ends(topic.name)) : undefined;
    const offsets = new ConsumerOffsets(
      (positions) =>
        consumer.commitOffsets(
          positions.map(({ partition, offset }) => ({
            topic: topic.name,
            partition,
            offset: String(offset),
          })),
        ),
      commits,
      (error) => this.options.logger?.warn(`${groupIdFor}: commit failed: ${errorText(error)}`),
    );
    let owned: readonly number[] = [];
    let generation = 0;
    /** The latest join's placing of a `latest` subscription's partitions (see place()). */
    let placed: Promise<void> = Promise.resolve();
    let closing = false;
    let closed: Promise<void> | undefined;
    /** Messages being handled now (several with partitionsConsumedConcurrently). */
    const inHand = new Set<Promise<unknown>>();
    const close = () =>
      (closed ??= (async () => {
        closing = true;
        this.consumers.delete(consumer);
        // kafkajs drops a commit once its consumer is stopping: the messages in hand finish,
        // and their commits and the releases that came in before go out, while it still runs.
        await Promise.allSettled([...inHand]);
        await offsets.flush();
        await consumer.disconnect();
        owned.forEach((p) => observer?.lag(topic.name, group, p, undefined));
      })());
    this.consumers.set(consumer, close);
    await consumer.connect();
    await consumer.subscribe({
      topic: topic.name,
      fromBeginning: (options.startFrom ?? 'earliest') === 'earliest',
    });
    const codec = this.codecs(topic);
    const maxAttempts = options.maxAttempts ?? 3;
    const consuming = this.firstFetch(consumer, groupIdFor);
    // Every join is a new generation: kafkajs reads each assigned partition again from its
    // committed offset, so whatever was held under the previous assignment is read again too.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = [...(payload.memberAssignment[topic.name] ?? [])].sort((a, b) => a - b);
      // Another member reports the partitions this one gave up.
      for (const lost of owned.filter((p) => !assigned.includes(p))) {
        observer?.lag(topic.name, group, lost, undefined);
      }
      for (const p of owned) {
        const reached = offsets.tracker(p).position();
        if (reached !== undefined) start?.reached(p, reached);
      }
      owned = assigned;
      offsets.reassign(assigned);
      generation += 1;
      if (start) {
        // Nothing is read until the broker was asked where the group stands: the event cannot
        // wait for the answer, and kafkajs fetches right after it.
        const partitions = [{ topic: topic.name, partitions: [...assigned] }];
        consumer.pause(partitions);
        const mine = generation;
        placed = (async () => {
          try {
            await this.place(consumer, topic.name, groupIdFor, commits, start, offsets, assigned);
          } catch (error) {
            // kafkajs then reads as it would have: from the broker's position, else the end.
            this.options.logger?.warn(`${groupIdFor}: placing failed: ${errorText(error)}`);
          }
          // A later join paused its own assignment and resumes it once placed.
          if (mine === generation && !closing) consumer.resume(partitions);
        })();
      }
      options.onAssigned?.(assigned);
    });
    // kafkajs knows each partition's high watermark at the end of a batch: lag without a
    // round trip to the broker.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) =>
      observer?.lag(topic.name, group, payload.partition, Math.max(0, Number(payload.offsetLag))),
    );
    const handleMessage = async ({ partition, message, heartbeat }: EachMessagePayload) => {
      const headers = stringHeaders(message.headers);
      const key = message.key?.toString('utf8') ?? '';
      const bytes = message.value ?? Buffer.alloc(0);
      const offset = Number(message.offset);
      const tracker = offsets.tracker(partition);
      const started = performance.now();
      let value: T | undefined;
      try {
        value = codec.decode(bytes);
      } catch (error) {
        observer?.deadLettered(topic.name, group, 'decode');
        await this.deadLetter(topic, group, partition, message, headers, error);
      }
      if (value !== undefined) {
        await this.handleWithRetries(
          topic,
          group,
          partition,
          message,
          headers,
          maxAttempts,
          () =>
            handleInContext({ topic: topic.name, key, headers, offset, partition }, () =>
              handler({
                topic: topic.name,
                key,
                value: value as T,
                headers,
                offset,
                partition,
                hold: () => tracker.hold(offset),
              }),
            ),
          heartbeat,
        );
      }
      observer?.handled(topic.name, group, bytes.length, (performance.now() - started) / 1000);
      tracker.handled(offset);
      offsets.commit(partition, tracker);
    };
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachMessage: async (payload) => {
        // Closing: a message not yet begun is left for the group's next owner to read.
        if (closing) return;
        const handling = handleMessage(payload);
        inHand.add(handling);
        try {
          await handling;
        } finally {
          inHand.delete(handling);
        }
      },
    });
    await consuming;
    await placed;
    return {
      close,
      caughtUp: async () => {
        // kafkajs gives up on a partition whose leader just moved (a broker that only now
        // took over a new topic's partitions), where one more try a moment later succeeds.
        const ends = await retryRetriable(() => this.admin.fetchTopicOffsets(topic.name));
        const own = commits ? await this.committedPositions(topic.name, groupIdFor) : [];
        // Where reading starts on a partition nothing was handled on yet in this generation.
        const startOf = (partition: number, low: number, high: number) => {
          const committed = own.find((p) => p.partition === partition)?.offset;
          if (committed !== undefined) return Math.max(low, committed);
          return (options.startFrom ?? 'earliest') === 'earliest' ? low : high;
        };
        for (;;) {
          const behind = ends.some(({ partition, high, low }) => {
            const read =
              offsets.tracker(partition).handledTo ?? startOf(partition, Number(low), Number(high));
            return offsets.owns(partition) && read < Number(high);
          });
          if (!behind || !this.consumers.has(consumer)) return;
          await delay(20);
        }
      },
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers.values()].map((close) => close()));
    if (this.connected) {
      await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
    }
  }

  private async ends(topic: string): Promise<PartitionOffset[]> {
    const ends = await retryRetriable(() => this.admin.fetchTopicOffsets(topic));
    return ends.map(({ partition, high }) => ({ partition, offset: Number(high) }));
  }

  /**
   * Seeks the assigned partitions the broker holds no position for to where the subscription
   * stands (StartPositions) and, for a committing group, commits it there, so a rejoin or a
   * restart reads on from it. Where the broker holds one, kafkajs reads from it as always.
   */
  private async place(
    consumer: Consumer,
    topic: string,
    groupId: string,
    commits: boolean,
    start: StartPositions,
    offsets: ConsumerOffsets,
    assigned: readonly number[],
  ): Promise<void> {
    const committed = commits ? await this.committedPositions(topic, groupId) : [];
    for (const { partition, offset } of start.unplaced(assigned, committed)) {
      consumer.seek({ topic, partition, offset: String(offset) });
      // kafkajs drops a commit asked for during its first join (its runner is not running
      // yet); by the time the broker answered above, the join has returned. Should one be
      // dropped all the same, the next join finds no position and commits it again.
      if (commits) offsets.startAt(partition, offset);
    }
  }

  /** The group's committed positions on the topic's partitions that have one. */
  private async committedPositions(topic: string, groupId: string): Promise<PartitionOffset[]> {
    const [own] = await retryRetriable(() => this.admin.fetchOffsets({ groupId, topics: [topic] }));
    return own.partitions
      .map(({ partition, offset }) => ({ partition, offset: Number(offset) }))
      .filter(({ offset }) => offset >= 0);
  }

  /**
   * Resolves once the consumer joined its group and fetched. `run()` returns before that, so
   * a subscriber could report ready before it reads anything (a StartStream command sent right
   * after a service reported ready). A `latest` subscription also waits for its first join to
   * be placed (see place()).
   */
  private firstFetch(consumer: Consumer, groupId: string): Promise<void> {
    const timeoutMs = this.options.joinTimeoutMs ?? 60_000;
    return new Promise<void>((resolve, reject) => {
      let joined = false;
      const done = (error?: Error) => {
        clearTimeout(timer);
        removers.forEach((remove) => remove());
        if (error) reject(error);
        else resolve();
      };
      const removers = [
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          joined = true;
          // A member left without partitions (more members than partitions) never fetches.
          if (Object.keys(payload.memberAssignment).length === 0) done();
        }),
        // FETCH follows the offset resolution of the first fetch after the join.
        consumer.on(consumer.events.FETCH, () => joined && done()),
        // A retriable crash (a coordinator still loading on a fresh broker) restarts the
        // consumer by itself: only one it gives up on fails the subscription.
        consumer.on(consumer.events.CRASH, ({ payload }) => payload.restart || done(payload.error)),
      ];
      const timer = setTimeout(
        () =>
          done(
            new BusUnavailableError(
              `consumer group ${groupId} did not join within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
  }

  private async handleWithRetries(
    topic: Topic<unknown>,
    group: string,
    partition: number,
    message: KafkaMessage,
    headers: Headers,
    maxAttempts: number,
    run: () => Promise<void>,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      try {
        await run();
        return;
      } catch (error) {
        lastError = error;
        this.options.logger?.warn(
          `${topic.name}[${partition}]@${message.offset} attempt ${attempt}/${maxAttempts} failed: ${errorText(error)}`,
        );
        if (attempt < maxAttempts) {
          await delay((this.options.retryDelayMs ?? 200) * attempt);
          await heartbeat();
        }
      }
    }
    this.options.observer?.deadLettered(topic.name, group, 'handler');
    await this.deadLetter(topic, group, partition, message, headers, lastError);
  }

  private async deadLetter(
    topic: Topic<unknown>,
    group: string,
    partition: number,
    message: KafkaMessage,
    headers: Headers,
    error: unknown,
  ): Promise<void> {
    const dlq = deadLetterTopic(topic).name;
    this.options.logger?.error(
      `${topic.name}[${partition}]@${message.offset} → ${dlq}: ${errorText(error)}`,
    );
    await this.producer.send({
      topic: dlq,
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...headers,
            [DLQ_REASON]: errorText(error),
            [DLQ_SOURCE_TOPIC]: topic.name,
            [DLQ_GROUP]: group,
            [DLQ_SOURCE_PARTITION]: String(partition),
            [DLQ_SOURCE_OFFSET]: message.offset,
          },
        },
      ],
    });
  }

  private encode<T>(topic: Topic<T>, value: T): Uint8Array {
    return this.codecs(topic).encode(value);
  }

  private async waitForLeaders(topics: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if (hasAllLeaders(await this.admin.fetchTopicMetadata({ topics }))) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline)
        throw new Error(`topics without leaders after 30 s: ${topics.join(', ')}`);
      await delay(100);
    }
  }

  private async ensureTopics(names: string[]): Promise<void> {
    const missing = names.filter((n) => !this.ensured.has(n));
    if (missing.length === 0) return;
    const existing = new Set(await this.admin.listTopics());
    const toCreate = missing.filter((n) => !existing.has(n));
    if (toCreate.length > 0) {
      await this.admin.createTopics({
        // Waited for below: kafkajs's own wait retries only LEADER_NOT_AVAILABLE, while a KRaft
        // broker may briefly answer UNKNOWN_TOPIC_OR_PARTITION for a topic it just created.
        waitForLeaders: false,
        topics: toCreate.map((name) => ({
          topic: name,
          numPartitions: this.options.partitions ?? 6,
          replicationFactor: this.options.replicationFactor ?? 1,
          configEntries: [
            ...(this.options.retentionMs?.[name]
              ? [{ name: 'retention.ms', value: String(this.options.retentionMs[name]) }]
              : []),
            // Keyed state: the latest message per key is what matters (see COMPACTED_TOPICS).
            ...(COMPACTED_TOPICS.has(name)
              ? [
                  { name: 'cleanup.policy', value: COMPACTED_TOPICS.get(name)! },
                  { name: 'segment.ms', value: String(COMPACTED_SEGMENT_MS) },
                ]
              : []),
          ],
        })),
      });
    }
    await this.waitForLeaders(missing);
    missing.forEach((n) => this.ensured.add(n));
  }
}

/** The Kafka consumer group behind a Bus group on one topic (what lag monitoring watches). */
export function kafkaGroupId(group: string, topic: string): string {
  return `${group}.${topic}`;
}

function hasAllLeaders(metadata: { topics: { partitions: { leader: number }[] }[] }): boolean {
  return metadata.topics.every(
    (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
  );
}

function stringHeaders(headers: IHeaders | undefined): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(String).join(',') : value.toString();
  }
  return out;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
