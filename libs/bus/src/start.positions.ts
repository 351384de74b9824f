import type { PartitionOffset } from './consumer.offsets';

/**
 * Where a `latest` subscription starts on the partitions its group has no committed position
 * on: the end of each partition when `subscribe` was called, held until the broker knows
 * better.
 *
 * kafkajs resolves "latest" again at every join while a partition has no committed offset, so
 * a rebalance, or the group's only member restarting, before its first commit skipped whatever
 * was published in between (a StartStream command sent while the stage rejoined). A committing
 * group commits the held positions once it first fetched, unless another member committed the
 * group's place by then, so the broker remembers it even if no message is ever handled; until
 * the broker holds a position, every rejoin seeks the held one.
 */
export class StartPositions {
  private readonly held: Map<number, number>;

  /**
   * @param ends each partition's end when subscribe was called
   * @param committed the group's committed positions then (none for a group that never commits)
   * @param commits false: a view that never commits; its place is kept here, in memory only
   */
  constructor(
    ends: readonly PartitionOffset[],
    committed: readonly PartitionOffset[],
    private readonly commits: boolean,
  ) {
    const known = new Set(committed.filter((c) => c.offset >= 0).map((c) => c.partition));
    this.held = new Map(
      ends.filter((e) => !known.has(e.partition)).map((e) => [e.partition, e.offset]),
    );
  }

  /** The positions to seek on a new assignment (and, for a committing group, to commit). */
  onAssigned(partitions: readonly number[]): PartitionOffset[] {
    return partitions
      .filter((partition) => this.held.has(partition))
      .map((partition) => ({ partition, offset: this.held.get(partition) as number }));
  }

  /** A view moves its own place on: a rejoin resumes after what it read. */
  handled(partition: number, offset: number): void {
    if (!this.commits && this.held.has(partition)) this.held.set(partition, offset + 1);
  }

  /** Once the broker holds a position for a partition, a rejoin reads it from there. */
  committed(positions: readonly PartitionOffset[]): void {
    for (const { partition } of positions) this.held.delete(partition);
  }
}
