import { CommitTracker } from './commit.tracker';

export interface PartitionOffset {
  partition: number;
  /** The first offset a restart reads. */
  offset: number;
}

/**
 * The commit positions of one consumer: a tracker per owned partition, replaced at every
 * rebalance so a release from an earlier assignment cannot commit past a new owner's holds.
 *
 * Commits are coalesced: at most one commit request is in flight per consumer, and whatever
 * moved while it was out goes in the next one, every partition's latest position in a single
 * request. A handler never waits for the broker to acknowledge a commit. Waiting made every
 * message cost a broker round trip and a write to the offsets log, which on a 2-core box was
 * a large part of the Kafka deployment's overhead. At-least-once is unchanged: a position only
 * ever covers handled, released messages, so a crash replays what the lost commit covered, as
 * it would have replayed the message handled just before a crash anyway.
 */
export class ConsumerOffsets {
  private trackers = new Map<number, CommitTracker>();
  private assigned = new Set<number>();
  /** Partitions whose position may have moved since their last commit request. */
  private readonly moved = new Set<number>();
  private draining = false;
  private drained: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: (offsets: PartitionOffset[]) => Promise<void>,
    private readonly commits: boolean,
    private readonly onError: (error: unknown) => void,
  ) {}

  reassign(partitions: readonly number[]): void {
    this.trackers = new Map();
    this.assigned = new Set(partitions);
  }

  owns(partition: number): boolean {
    return this.assigned.has(partition);
  }

  tracker(partition: number): CommitTracker {
    let tracker = this.trackers.get(partition);
    if (!tracker) {
      const created: CommitTracker = new CommitTracker(() => this.commit(partition, created));
      tracker = created;
      this.trackers.set(partition, tracker);
    }
    return tracker;
  }

  /** A partition read from `offset` on, whatever was handled before it: committed as such. */
  startAt(partition: number, offset: number): void {
    const tracker = this.tracker(partition);
    tracker.startAt(offset);
    this.commit(partition, tracker);
  }

  /** Asks for what the tracker allows to be committed, unless the partition moved since. */
  commit(partition: number, tracker: CommitTracker): void {
    // A release after the partition moved belongs to a tracker nobody uses any more.
    if (!this.commits || this.trackers.get(partition) !== tracker) return;
    this.moved.add(partition);
    if (this.draining) return;
    this.draining = true;
    this.drained = this.drain();
  }

  /** Resolves once every position asked for so far has been sent. */
  flush(): Promise<void> {
    return this.drained;
  }

  private async drain(): Promise<void> {
    try {
      while (this.moved.size > 0) {
        const offsets: PartitionOffset[] = [];
        for (const partition of this.moved) {
          const offset = this.trackers.get(partition)?.takeAdvance();
          if (offset !== undefined) offsets.push({ partition, offset });
        }
        this.moved.clear();
        if (offsets.length === 0) continue;
        try {
          await this.send(offsets);
        } catch (error) {
          this.onError(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
