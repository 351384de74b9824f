import type { StoredEvent } from '@app/history';

export type StoredEventListener = (stored: StoredEvent) => void;

export interface EventFeedOptions {
  /** The newest seq already in the history, so a wait started before any publish means "newer than that". */
  latestSeq?: number;
  /** Hears about listeners that threw; default console.warn. */
  warn?: (message: string) => void;
}

interface SeqWaiter {
  afterSeq: number;
  resolve: () => void;
}

/**
 * Tells live subscribers (gRPC Subscribe) that an incident was committed. It holds only the
 * newest event, for readers caught up just before it; everyone else reads the history by
 * cursor, so a slow subscriber costs its own reads, not this process's memory. It assumes it
 * hears of every commit to the history, in order: one writing process per history file.
 */
export class EventFeed {
  private latest: number;
  private newest?: { stored: StoredEvent; previousSeq: number };
  private readonly waiters = new Set<SeqWaiter>();
  private readonly listeners = new Set<StoredEventListener>();
  private readonly warn: (message: string) => void;

  constructor(options: EventFeedOptions = {}) {
    this.latest = options.latestSeq ?? 0;
    this.warn = options.warn ?? ((message) => console.warn(message));
  }

  get latestSeq(): number {
    return this.latest;
  }

  /**
   * The newest published event when it directly follows `seq` (nothing was published between
   * them), so a subscriber caught up at `seq` may take it from here instead of re-reading the
   * history; undefined otherwise. Only the newest event is held.
   */
  nextAfter(seq: number): StoredEvent | undefined {
    return this.newest && this.newest.previousSeq === seq ? this.newest.stored : undefined;
  }

  /** Call after the event's transaction committed, never before: listeners read it back at once. */
  publish(stored: StoredEvent): void {
    // In-process commits are serialised and published in order, so the previous latest is
    // exactly the event before this one (a rolled-back seq in between makes no difference).
    this.newest = stored.seq > this.latest ? { stored, previousSeq: this.latest } : undefined;
    this.latest = Math.max(this.latest, stored.seq);
    for (const waiter of this.waiters) {
      if (stored.seq > waiter.afterSeq) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(stored);
      } catch (error) {
        // The event is committed whatever a listener does; one broken listener must not cost
        // the others their notification.
        this.warn(`event feed listener failed on ${stored.event.id}: ${describe(error)}`);
      }
    }
  }

  /** Resolves once an event with a seq above `seq` is published, or when `signal` aborts. */
  waitForSeqAfter(seq: number, signal?: AbortSignal): Promise<void> {
    if (this.latest > seq || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = () => {
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: SeqWaiter = {
        afterSeq: seq,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Called synchronously with each published event; returns the unsubscribe. */
  onStored(listener: StoredEventListener): () => void {
    // A wrapper per registration, so registering the same function twice needs two unsubscribes.
    const registered: StoredEventListener = (stored) => listener(stored);
    this.listeners.add(registered);
    return () => void this.listeners.delete(registered);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
