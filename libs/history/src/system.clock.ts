/** Wall-clock time, behind an interface so tests decide what "now" is (retention, storedAt). */
export interface Clock {
  now(): number;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}
