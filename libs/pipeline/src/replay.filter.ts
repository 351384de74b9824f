/**
 * Recognises input read twice. A stage upstream that restarted, or an ingest that resumed a
 * stream, publishes again, with the same stream times, a little of what it had published
 * before: deciding on it twice would feed a stream's decisions over time the same second
 * twice. Remembers how far each stream got; bounded, since a stream that moved to another
 * replica never sends its end here.
 */
export class ReplayFilter {
  private readonly reached = new Map<string, number>();

  constructor(
    private readonly maxStreams = 4096,
    /** Further back than this is no replay but the stream started over (a new run, same id). */
    private readonly maxReplaySec = 30,
  ) {}

  /** False for a stream time at or before one this stream has already reached. */
  isNew(streamId: string, sec: number): boolean {
    const last = this.reached.get(streamId);
    if (last !== undefined && sec <= last && last - sec <= this.maxReplaySec) return false;
    this.reached.delete(streamId); // re-inserted last: the map's order is least recent first
    this.reached.set(streamId, sec);
    if (this.reached.size > this.maxStreams) {
      this.reached.delete(this.reached.keys().next().value!);
    }
    return true;
  }

  forget(streamId: string): void {
    this.reached.delete(streamId);
  }
}
