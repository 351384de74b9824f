import type { Topic } from '@app/contracts';

export type Headers = Record<string, string>;

export interface BusMessage<T> {
  topic: string;
  key: string;
  value: T;
  headers: Headers;
  /** Position in the partition; monotonically increasing per (topic, partition). */
  offset: number;
  partition: number;
}

export type MessageHandler<T> = (message: BusMessage<T>) => Promise<void>;

export interface SubscribeOptions {
  /** Attempts before a message goes to `<topic>.dlq` and the consumer moves on. */
  maxAttempts?: number;
  /**
   * Where a group with no committed position starts: `earliest` (default) processes what was
   * published before it first joined; `latest` suits commands, where replaying old ones after
   * a group's offsets expired would restart streams nobody asked for.
   */
  startFrom?: 'earliest' | 'latest';
}

export interface Subscription {
  /** Stops consuming after the in-flight message; its offset is committed if it succeeded. */
  close(): Promise<void>;
}

/**
 * The seam between stages and transports. Semantics every implementation keeps:
 * - messages with the same key keep their order (one partition per key);
 * - each consumer group sees every message; consumers in a group share partitions;
 * - an offset is committed only after the handler resolved (at-least-once);
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

export const BUS = Symbol('Bus');
