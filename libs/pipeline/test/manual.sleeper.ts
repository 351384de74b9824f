import type { Sleeper } from '../src/stream.supervisor';

/** Sleeps that end when the test says so (or when aborted, like the real one). */
export class ManualSleeper implements Sleeper {
  readonly pending: { ms: number; wake: () => void }[] = [];

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const entry = { ms, wake: resolve };
      this.pending.push(entry);
      signal.addEventListener('abort', () => {
        const at = this.pending.indexOf(entry);
        if (at >= 0) this.pending.splice(at, 1);
        resolve();
      });
    });
  }

  /** Ends every pending sleep of exactly `ms`. */
  elapse(ms: number): void {
    for (const entry of this.pending.filter((e) => e.ms === ms)) {
      this.pending.splice(this.pending.indexOf(entry), 1);
      entry.wake();
    }
  }
}
