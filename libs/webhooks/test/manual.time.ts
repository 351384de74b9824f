import type { Clock } from '@app/history';
import type { Sleeper } from '../src/abortable.sleeper';

interface Sleeping {
  until: number;
  resolve: () => void;
}

/**
 * A clock and a sleeper that move only when the test says so. In `auto` mode every sleep
 * jumps the clock to its end at once, so backoff runs through in no real time; otherwise
 * sleeps wait for `advance`.
 */
export class ManualTime implements Clock, Sleeper {
  /** Every delay asked for, in order. */
  readonly slept: number[] = [];
  private sleeping: Sleeping[] = [];

  constructor(
    public time = Date.UTC(2026, 0, 1, 12),
    public auto = true,
  ) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    this.slept.push(ms);
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const entry: Sleeping = { until: this.time + ms, resolve };
      const done = () => {
        this.sleeping = this.sleeping.filter((s) => s !== entry);
        signal.removeEventListener('abort', done);
        resolve();
      };
      entry.resolve = done;
      signal.addEventListener('abort', done, { once: true });
      if (this.auto) {
        // after the caller awaited, like a timer
        queueMicrotask(() => {
          this.time = Math.max(this.time, entry.until);
          done();
        });
      } else {
        this.sleeping.push(entry);
      }
    });
  }

  advance(ms: number): void {
    this.time += ms;
    for (const entry of [...this.sleeping]) if (entry.until <= this.time) entry.resolve();
  }

  get pendingSleeps(): number {
    return this.sleeping.length;
  }

  /** When the earliest pending sleep ends; undefined when nothing sleeps. */
  get nextWakeAt(): number | undefined {
    return this.sleeping.length === 0 ? undefined : Math.min(...this.sleeping.map((s) => s.until));
  }

  /** Moves the clock to the end of the earliest pending sleep; false when nothing sleeps. */
  advanceToNextWake(): boolean {
    const next = this.nextWakeAt;
    if (next === undefined) return false;
    this.advance(Math.max(0, next - this.time));
    return true;
  }
}

/** Lets queued promise callbacks and I/O run: one turn of the event loop, `turns` times. */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Waits, turn by turn (not by the clock), until `condition` holds. */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  maxTurns = 2_000,
) {
  for (let i = 0; i < maxTurns; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`still waiting for ${what} after ${maxTurns} turns`);
}
