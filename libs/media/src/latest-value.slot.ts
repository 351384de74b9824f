/**
 * A one-place mailbox that keeps only the newest value: a live producer never waits and the
 * consumer always gets the freshest frame. Replaced values are counted as dropped.
 */
export class LatestValueSlot<T> {
  private value?: { item: T };
  private waiter?: (result: { item: T } | undefined) => void;
  private closed = false;
  private drops = 0;

  get dropped(): number {
    return this.drops;
  }

  put(item: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake({ item });
      return;
    }
    if (this.value) this.drops++;
    this.value = { item };
  }

  /** No more values; a waiting take() gets the remaining one or the end. */
  close(): void {
    this.closed = true;
    if (this.waiter && !this.value) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake(undefined);
    }
  }

  /** The newest value, waiting for one if needed; undefined once closed and empty. */
  take(): Promise<{ item: T } | undefined> {
    if (this.value) {
      const value = this.value;
      this.value = undefined;
      return Promise.resolve(value);
    }
    if (this.closed) return Promise.resolve(undefined);
    if (this.waiter) return Promise.reject(new Error('LatestValueSlot has a single consumer'));
    return new Promise((resolve) => (this.waiter = resolve));
  }
}
