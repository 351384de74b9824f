import { CommitTracker } from './commit.tracker';

describe('CommitTracker', () => {
  it('commits past handled messages, but never past the oldest one still held', () => {
    const released: number[] = [];
    const tracker = new CommitTracker(() => released.push(tracker.position()!));
    expect(tracker.position()).toBeUndefined();
    const at10 = tracker.hold(10);
    tracker.handled(10);
    const at11 = tracker.hold(11);
    tracker.handled(11);
    tracker.handled(12);
    expect(tracker.position()).toBe(10);
    at11();
    expect(released).toEqual([10]); // 10 still pins the partition
    at10();
    at10(); // a second call changes nothing
    expect(released).toEqual([10, 13]);
    expect(tracker.position()).toBe(13);
  });

  it('counts two holds on one offset apart', () => {
    const tracker = new CommitTracker();
    const a = tracker.hold(5);
    const b = tracker.hold(5);
    tracker.handled(5);
    a();
    expect(tracker.position()).toBe(5);
    b();
    expect(tracker.position()).toBe(6);
  });

  it('hands out each advance once', () => {
    const tracker = new CommitTracker();
    tracker.handled(0);
    expect(tracker.takeAdvance()).toBe(1);
    expect(tracker.takeAdvance()).toBeUndefined();
    const held = tracker.hold(1);
    tracker.handled(1);
    expect(tracker.takeAdvance()).toBeUndefined(); // still at 1
    held();
    expect(tracker.takeAdvance()).toBe(2);
  });
});
