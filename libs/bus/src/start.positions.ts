import type { PartitionOffset } from './consumer.offsets';

/**
 * Where a `latest` subscription reads a partition its group holds no committed position on:
 * the partition's end when `subscribe` was called, or, once this subscription read or held
 * messages there, the place it had reached.
 *
 * kafkajs resolves "latest" again at every join while a partition has no committed offset, so
 * a rebalance, or the group's only member restarting, before its first commit skipped whatever
 * was published in between (a StartStream command sent while the stage rejoined). At every
 * join the bus asks the broker first: a position there (this member's or another's) always
 * wins, and only where there is none does it seek here and commit it.
 */
export class StartPositions {
  private readonly places: Map<number, number>;

  constructor(ends: readonly PartitionOffset[]) {
    this.places = new Map(ends.map((e) => [e.partition, e.offset]));
  }

  /** The place this subscription reached on a partition it is giving up or handing over. */
  reached(partition: number, offset: number): void {
    this.places.set(partition, offset);
  }

  /** Where to read the assigned partitions that the broker holds no position for. */
  unplaced(assigned: readonly number[], committed: readonly PartitionOffset[]): PartitionOffset[] {
    const known = new Set(committed.filter((c) => c.offset >= 0).map((c) => c.partition));
    return assigned
      .filter((partition) => !known.has(partition) && this.places.has(partition))
      .map((partition) => ({ partition, offset: this.places.get(partition) as number }));
  }
}
