import type { Release } from './bus.interface';

/**
 * Where one partition may commit for one consumer: past every handled message, but never past
 * the oldest message a handler still holds. Holds are taken while their message is handled,
 * so they arrive in offset order and the oldest one is always the first in the map.
 */
export class CommitTracker {
  /** offset → holds not yet released; insertion order is offset order. */
  private readonly held = new Map<number, number>();
  /** One past the last handled offset; undefined until something was handled. */
  private next?: number;
  private committed?: number;

  /** `onRelease` runs when a hold is let go: the position may have moved on. */
  constructor(private readonly onRelease: () => void = () => undefined) {}

  hold(offset: number): Release {
    this.held.set(offset, (this.held.get(offset) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(offset) ?? 1) - 1;
      if (left > 0) this.held.set(offset, left);
      else this.held.delete(offset);
      this.onRelease();
    };
  }

  /** Nothing before `offset` is this consumer's to read (where a new group starts). */
  startAt(offset: number): void {
    this.next = Math.max(this.next ?? offset, offset);
  }

  handled(offset: number): void {
    this.next = Math.max(this.next ?? 0, offset + 1);
  }

  /** One past the last handled offset: what a consumer has read, holds or not. */
  get handledTo(): number | undefined {
    return this.next;
  }

  /** The offset to commit (the first one a restart reads), or undefined when there is none. */
  position(): number | undefined {
    if (this.next === undefined) return undefined;
    const oldestHeld = this.held.keys().next();
    return oldestHeld.done ? this.next : Math.min(oldestHeld.value, this.next);
  }

  /** The position, when it moved past the last one taken this way; marks it committed. */
  takeAdvance(): number | undefined {
    const position = this.position();
    if (position === undefined || (this.committed !== undefined && position <= this.committed)) {
      return undefined;
    }
    this.committed = position;
    return position;
  }
}
