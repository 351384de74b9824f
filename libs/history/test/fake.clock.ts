import type { Clock } from '../src/system.clock';

/** A clock tests set by hand. */
export class FakeClock implements Clock {
  constructor(public time = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
