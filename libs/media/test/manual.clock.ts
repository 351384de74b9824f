import type { Clock, TimerHandle } from '../src/system.clock';

interface Timer {
  id: number;
  due: number;
  every?: number;
  callback: () => void;
}

/** A clock tests move by hand: timers fire only inside advance(), in due order. */
export class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private timers = new Map<number, Timer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.add({ id: this.nextId++, due: this.time + ms, callback });
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.add({ id: this.nextId++, due: this.time + ms, every: ms, callback });
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  clearInterval(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = [...this.timers.values()]
        .filter((t) => t.due <= until)
        .sort((a, b) => a.due - b.due || a.id - b.id)[0];
      if (!next) break;
      this.time = next.due;
      if (next.every) next.due += next.every;
      else this.timers.delete(next.id);
      next.callback();
    }
    this.time = until;
  }

  private add(timer: Timer): TimerHandle {
    this.timers.set(timer.id, timer);
    return timer.id as unknown as TimerHandle;
  }
}
