import type { Topic } from '@app/contracts';

export type Headers = Record<string, string>;

/** Lets go of a hold; calling it again does nothing. */
export type Release = () => void;

export interface BusMessage<T> {
  topic: string;
  key: string;
  value: T;
  headers: Headers;
  /** Position in the partition; monotonically increasing per (topic, partition). */
  offset: number;
  partition: number;
  /**
   * Keeps this offset, and so every later one of its partition, uncommitted until the returned
   * function is called: for a handler whose outputs depend on more than this message (a window
   * buffer, a running stream), so a restart reads it again instead of losing what was held.
   * Without a hold an offset commits once its handler resolved. Take it while handling the
   * message. A hold lapses when the partition is taken away (a rebalance): the new owner reads
   * the message again, and a late release changes nothing.
   */
  hold(): Release;
  /**
   * Whether a later message with the same key is already waiting for this group: a consumer of
   * live frames that is behind keeps only the newest one. Left out where the transport cannot
   * see ahead (Kafka hands over one message at a time); the caller then decides by age alone.
   */
  superseded?(): boolean;
}

export type MessageHandler<T> = (message: BusMessage<T>) => Promise<void>;

export interface SubscribeOptions {
  /** Attempts before a message goes to `<topic>.dlq` and the consumer moves on. */
  maxAttempts?: number;
  /**
   * Where a group with no committed position starts: `earliest` (default) processes what was
   * published before it first joined; `latest` suits commands, where replaying old ones after
   * a group's offsets expired would restart streams nobody asked for. A `latest` group keeps
   * the place it first subscribed at: a rebalance or restart before it handled anything reads
   * what was published meanwhile.
   */
  startFrom?: 'earliest' | 'latest';
  /**
   * false: a view rebuilt at every start (a registry, a ledger): reads from `startFrom` each
   * time and never commits. Give such a subscription a group of its own.
   */
  commits?: boolean;
  /**
   * Called with the partitions this subscriber owns, once it joined and again after every
   * rebalance, before any message of the new assignment is handled. Holds on partitions it
   * lost have lapsed by then.
   */
  onAssigned?: (partitions: readonly number[]) => void;
}

export interface Subscription {
  /** Stops consuming after the in-flight message; its offset is committed if it succeeded. */
  close(): Promise<void>;
  /**
   * Resolves once every message published to the topic before the call, on the partitions
   * this subscriber owns, was handled: a view read from the start is complete.
   */
  caughtUp(): Promise<void>;
}

/**
 * The seam between stages and transports. Semantics every implementation keeps:
 * - messages with the same key keep their order (one partition per key);
 * - each consumer group sees every message; consumers in a group share partitions;
 * - an offset is committed only after the handler resolved (at-least-once), and not while
 *   it, or an earlier offset of its partition, is held;
 * - a handler that keeps failing sends the message to `<topic>.dlq` with the error in headers;
 * - publish resolves once the message is accepted, and waits while the bus is full
 *   (backpressure) instead of buffering without bound.
 */
export interface Bus {
  publish<T>(topic: Topic<T>, key: string, value: T, headers?: Headers): Promise<void>;
  subscribe<T>(
    topic: Topic<T>,
    group: string,
    handler: MessageHandler<T>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  close(): Promise<void>;
}

/**
 * What a bus reports about its traffic, for whoever exposes it (Prometheus): messages and bytes
 * per topic, handling time per consumer group, dead letters and how far a group is behind.
 * Every call is cheap and synchronous; the bus never waits on its observer.
 */
export interface BusObserver {
  /** `bytes` is the encoded size; undefined on a bus that does not encode (in memory). */
  published(topic: string, bytes: number | undefined): void;
  handled(topic: string, group: string, bytes: number | undefined, seconds: number): void;
  /** `cause`: the payload could not be decoded, or its handler kept failing. */
  deadLettered(topic: string, group: string, cause: 'decode' | 'handler'): void;
  /** Messages of a partition published but not yet handled by the group; undefined: no longer owned. */
  lag(topic: string, group: string, partition: number, messages: number | undefined): void;
}

export const BUS = Symbol('Bus');
