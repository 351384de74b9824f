import type { StoredEvent } from '@app/history';
import { EventFeed } from './event.feed';

function stored(seq: number): StoredEvent {
  return {
    seq,
    event: {
      id: `evt-${seq}`,
      incidentId: `evt-${seq}`,
      version: 1,
      state: 'opened',
      streamId: 'cam',
      rule: 'glass_break',
      title: 'Glass breaking',
      severity: 'high',
      startSec: seq,
      endSec: seq,
      trigger: 'glass_break',
      triggers: ['glass_break'],
      evidence: [],
    },
    occurredAt: 1000 + seq,
    storedAt: 1000 + seq,
    evidenceRefs: [],
  };
}

/** Lets pending promise callbacks run (no timers involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function watch(promise: Promise<void>): { done: boolean } {
  const state = { done: false };
  void promise.then(() => (state.done = true));
  return state;
}

describe('EventFeed', () => {
  it('wakes a waiter only for an event newer than its cursor', async () => {
    const feed = new EventFeed({ latestSeq: 4 });
    const waiting = watch(feed.waitForSeqAfter(5));
    feed.publish(stored(5));
    await settle();
    expect(waiting.done).toBe(false);
    feed.publish(stored(6));
    await settle();
    expect(waiting.done).toBe(true);
    expect(feed.latestSeq).toBe(6);
  });

  it('answers at once when a newer event is already known, or the wait is called off', async () => {
    const feed = new EventFeed({ latestSeq: 9 });
    await expect(feed.waitForSeqAfter(8)).resolves.toBeUndefined();
    const controller = new AbortController();
    const waiting = watch(feed.waitForSeqAfter(9, controller.signal));
    await settle();
    expect(waiting.done).toBe(false);
    controller.abort();
    await settle();
    expect(waiting.done).toBe(true);
    await expect(feed.waitForSeqAfter(9, controller.signal)).resolves.toBeUndefined();
  });

  it('never moves its cursor back when events are published out of order', () => {
    const feed = new EventFeed();
    feed.publish(stored(3));
    feed.publish(stored(2));
    expect(feed.latestSeq).toBe(3);
  });

  it('calls listeners synchronously, keeps no backlog for late ones, and lets them go', () => {
    const feed = new EventFeed();
    feed.publish(stored(1));
    const seen: number[] = [];
    const unsubscribe = feed.onStored((s) => seen.push(s.seq));
    feed.publish(stored(2));
    expect(seen).toEqual([2]);
    unsubscribe();
    feed.publish(stored(3));
    expect(seen).toEqual([2]);
  });

  it('tells the other listeners even when one throws, and says which event it was', () => {
    const warnings: string[] = [];
    const feed = new EventFeed({ warn: (m) => warnings.push(m) });
    const seen: number[] = [];
    feed.onStored(() => {
      throw new Error('socket closed');
    });
    feed.onStored((s) => seen.push(s.seq));
    feed.publish(stored(7));
    expect(seen).toEqual([7]);
    expect(warnings).toEqual(['event feed listener failed on evt-7: socket closed']);
  });
});

describe('EventFeed.nextAfter', () => {
  const stored = (seq: number) =>
    ({ seq, event: { id: `e${seq}` }, occurredAt: 0, storedAt: 0, evidenceRefs: [] }) as never;

  it('hands over the newest event only to a reader caught up just before it', () => {
    const feed = new EventFeed({ latestSeq: 4 });
    expect(feed.nextAfter(4)).toBeUndefined();
    feed.publish(stored(5));
    expect(feed.nextAfter(4)).toMatchObject({ seq: 5 });
    expect(feed.nextAfter(3)).toBeUndefined(); // it missed 4: back to the history
    feed.publish(stored(7)); // 6 rolled back: still the next one after 5
    expect(feed.nextAfter(5)).toMatchObject({ seq: 7 });
    expect(feed.nextAfter(4)).toBeUndefined();
  });
});
