/** The last `capacity` lines of a log: enough to explain a failure, bounded for endless streams. */
export class LineRing {
  private readonly slots: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  push(line: string): void {
    if (this.slots.length < this.capacity) {
      this.slots.push(line);
    } else {
      this.slots[this.next] = line;
    }
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  lines(): string[] {
    if (this.slots.length < this.capacity) return [...this.slots];
    return [...this.slots.slice(this.next), ...this.slots.slice(0, this.next)];
  }
}
