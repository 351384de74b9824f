import type { Topic } from '@app/contracts';
import { deadLetterTopic } from '@app/contracts';
import type {
  Bus,
  BusMessage,
  BusObserver,
  Headers,
  MessageHandler,
  SubscribeOptions,
  Subscription,
} from './bus.interface';
import { CommitTracker } from './commit.tracker';
import { partitionFor } from './partitioner';
import { handleInContext } from './message.context';

export interface MemoryBusOptions {
  /** Partitions per topic; keys hash onto them like Kafka's default partitioner. */
  partitions?: number;
  /**
   * Unhandled messages a partition may hold (for its slowest group) before publish waits.
   * This is what bounds memory: a stalled consumer stops its producers.
   */
  capacity?: number;
  /** Delay between attempts of a failing handler. */
  retryDelayMs?: number;
  /**
   * Messages kept for a group that closed with offsets uncommitted (held), so it reads them
   * again when it subscribes again; beyond this many behind the end it starts afresh.
   */
  retainDeparted?: number;
  observer?: BusObserver;
}

interface Waiter {
  resolve: () => void;
}

interface GroupCursor {
  group: string;
  /** Next offset to hand to the handler. */
  next: number;
  /** Handled offsets and holds: what this group would read again after re-subscribing. */
  offsets: CommitTracker;
  commits: boolean;
  closed: boolean;
  handler: MessageHandler<unknown>;
  maxAttempts: number;
  idle: Promise<void>;
  wake?: () => void;
}

type Logged = Omit<BusMessage<unknown>, 'hold' | 'superseded'>;

class Partition {
  readonly log: Logged[] = [];
  /** Offset of log[0]: the log is trimmed once every group committed past a message. */
  base = 0;
  readonly groups = new Map<string, GroupCursor>();
  /** Committed position of groups that closed, where they resume if they subscribe again. */
  readonly departed = new Map<string, number>();
  readonly spaceWaiters: Waiter[] = [];

  get end(): number {
    return this.base + this.log.length;
  }

  /**
   * Messages some group has not handled yet. Held ones do not count: the stage holding them
   * has their data in memory already, and a buffer longer than the capacity (ten seconds of
   * evidence) would otherwise stop its own producers for good.
   */
  backlog(): number {
    let oldest = this.end;
    for (const cursor of this.groups.values()) oldest = Math.min(oldest, cursor.next);
    return this.end - oldest;
  }

  /** Whether a message after `offset` has this key. */
  hasLater(offset: number, key: string): boolean {
    for (let i = offset - this.base + 1; i < this.log.length; i++) {
      if (this.log[i].key === key) return true;
    }
    return false;
  }

  trim(retainDeparted: number): void {
    let oldest = this.end;
    for (const cursor of this.groups.values()) {
      oldest = Math.min(oldest, cursor.offsets.position() ?? cursor.next);
    }
    for (const [group, position] of this.departed) {
      // A group that went away for good must not pin the log forever.
      if (this.end - position > retainDeparted) this.departed.delete(group);
      else oldest = Math.min(oldest, position);
    }
    const drop = oldest - this.base;
    if (drop > 0) {
      this.log.splice(0, drop);
      this.base = oldest;
    }
  }
}

/**
 * The in-process bus used by `vigil analyze` and `vigil serve`. It keeps the same contract as
 * the Kafka bus (see Bus), so a stage tested here behaves the same on Kafka.
 *
 * Like Kafka with `auto.offset.reset=latest`, a group sees messages published after it
 * subscribed; messages published to a topic nobody subscribes to are dropped. A group that
 * closes and subscribes again resumes at its committed position, like on Kafka: it reads again
 * what it held and what was published meanwhile.
 */
export class MemoryBus implements Bus {
  private readonly topics = new Map<string, Partition[]>();
  private readonly partitions: number;
  private readonly capacity: number;
  private readonly retryDelayMs: number;
  private readonly retainDeparted: number;
  private readonly observer?: BusObserver;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.partitions = options.partitions ?? 6;
    this.capacity = options.capacity ?? 64;
    this.retryDelayMs = options.retryDelayMs ?? 50;
    this.retainDeparted = options.retainDeparted ?? 64 * this.capacity;
    this.observer = options.observer;
  }

  async publish<T>(topic: Topic<T>, key: string, value: T, headers: Headers = {}): Promise<void> {
    if (this.closed) throw new Error(`bus is closed: cannot publish to ${topic.name}`);
    const partitionIndex = partitionFor(key, this.partitions);
    const partition = this.partitionsOf(topic.name)[partitionIndex];
    while (partition.groups.size > 0 && partition.backlog() >= this.capacity && !this.closed) {
      await new Promise<void>((resolve) => partition.spaceWaiters.push({ resolve }));
    }
    if (partition.groups.size === 0 && partition.departed.size === 0) return;
    this.observer?.published(topic.name, undefined);
    partition.log.push({
      topic: topic.name,
      key,
      value,
      headers: { ...headers },
      offset: partition.end,
      partition: partitionIndex,
    });
    for (const cursor of partition.groups.values()) cursor.wake?.();
  }

  async subscribe<T>(
    topic: Topic<T>,
    group: string,
    handler: MessageHandler<T>,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    const cursors: GroupCursor[] = [];
    const partitions = this.partitionsOf(topic.name);
    const commits = options.commits ?? true;
    for (const partition of partitions) {
      if (partition.groups.has(group)) {
        throw new Error(`group ${group} already consumes ${topic.name} in this process`);
      }
      const resumeAt = commits ? partition.departed.get(group) : undefined;
      partition.departed.delete(group);
      const start = resumeAt !== undefined && resumeAt >= partition.base ? resumeAt : partition.end;
      const cursor: GroupCursor = {
        group,
        next: start,
        offsets: new CommitTracker(() => this.release(partition)),
        commits,
        closed: false,
        handler: handler as MessageHandler<unknown>,
        maxAttempts: options.maxAttempts ?? 3,
        idle: Promise.resolve(),
      };
      partition.groups.set(group, cursor);
      cursors.push(cursor);
    }
    // One process owns every partition, once and for all.
    options.onAssigned?.(partitions.map((_, index) => index));
    partitions.forEach((partition, i) => {
      cursors[i].idle = this.consume(topic.name, partition, cursors[i]);
    });
    return {
      close: async () => {
        for (const cursor of cursors) {
          cursor.closed = true;
          cursor.wake?.();
        }
        await Promise.all(cursors.map((cursor) => cursor.idle));
        partitions.forEach((partition, i) => {
          const cursor = cursors[i];
          partition.groups.delete(group);
          if (cursor.commits) {
            partition.departed.set(group, cursor.offsets.position() ?? cursor.next);
          }
          this.release(partition);
        });
      },
      caughtUp: async () => {
        const ends = partitions.map((partition) => partition.end);
        const behind = () =>
          cursors.some((cursor, i) => !cursor.closed && cursor.next < ends[i] && !this.closed);
        while (behind()) await new Promise((resolve) => setTimeout(resolve, 1));
      },
    };
  }

  /**
   * Resolves once every group has handled everything published so far: in one process this
   * is how a caller knows all downstream work for its input is done.
   */
  async idle(): Promise<void> {
    const busy = () =>
      [...this.topics.values()].some((partitions) => partitions.some((p) => p.backlog() > 0));
    while (busy() && !this.closed) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const partitions of this.topics.values()) {
      for (const partition of partitions) {
        for (const cursor of partition.groups.values()) {
          cursor.closed = true;
          cursor.wake?.();
        }
        partition.spaceWaiters.splice(0).forEach((waiter) => waiter.resolve());
      }
    }
  }

  private async consume(
    topicName: string,
    partition: Partition,
    cursor: GroupCursor,
  ): Promise<void> {
    for (;;) {
      while (!cursor.closed && cursor.next >= partition.end) {
        await new Promise<void>((resolve) => (cursor.wake = resolve));
        cursor.wake = undefined;
      }
      if (cursor.closed) return;
      const offset = cursor.next;
      const message = partition.log[offset - partition.base];
      const started = performance.now();
      await this.handle(
        topicName,
        {
          ...message,
          hold: () => cursor.offsets.hold(offset),
          superseded: () => partition.hasLater(offset, message.key),
        },
        cursor,
      );
      cursor.offsets.handled(offset);
      const seconds = (performance.now() - started) / 1000;
      this.observer?.handled(topicName, cursor.group, undefined, seconds);
      this.observer?.lag(topicName, cursor.group, message.partition, partition.end - offset - 1);
      cursor.next += 1;
      this.release(partition);
    }
  }

  private async handle(topicName: string, message: BusMessage<unknown>, cursor: GroupCursor) {
    let lastError: unknown;
    for (let attempt = 1; attempt <= cursor.maxAttempts; attempt++) {
      try {
        await handleInContext(message, () => cursor.handler(message));
        return;
      } catch (error) {
        lastError = error;
        if (attempt < cursor.maxAttempts) await delay(this.retryDelayMs * attempt);
      }
    }
    this.observer?.deadLettered(topicName, cursor.group, 'handler');
    await this.publish(deadLetterTopic({ name: topicName }), message.key, message.value as never, {
      ...message.headers,
      'x-vigil-dlq-reason': errorMessage(lastError),
      'x-vigil-dlq-source-topic': topicName,
      'x-vigil-dlq-group': cursor.group,
    });
  }

  private release(partition: Partition): void {
    partition.trim(this.retainDeparted);
    while (partition.spaceWaiters.length > 0 && partition.backlog() < this.capacity) {
      partition.spaceWaiters.shift()!.resolve();
    }
    if (partition.groups.size === 0) partition.spaceWaiters.splice(0).forEach((w) => w.resolve());
  }

  private partitionsOf(name: string): Partition[] {
    let partitions = this.topics.get(name);
    if (!partitions) {
      partitions = Array.from({ length: this.partitions }, () => new Partition());
      this.topics.set(name, partitions);
    }
    return partitions;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
