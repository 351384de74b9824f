import { Injectable } from '@nestjs/common';

export type TimerHandle = ReturnType<typeof setTimeout>;

/** Time and timers, behind a class so tests can drive the watchdog and kill escalation by hand. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return setTimeout(callback, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle);
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return setInterval(callback, ms);
  }

  clearInterval(handle: TimerHandle): void {
    clearInterval(handle);
  }
}
