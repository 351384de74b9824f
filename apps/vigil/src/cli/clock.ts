import { Injectable } from '@nestjs/common';

/** Wall clock behind a class, so timing-dependent output is testable. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}
