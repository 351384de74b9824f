import { ConsumerOffsets, type PartitionOffset } from './consumer.offsets';

/** A broker whose commit acknowledgements the test hands out one at a time. */
function fakeBroker() {
  const sent: PartitionOffset[][] = [];
  const acks: (() => void)[] = [];
  const send = jest.fn(
    (offsets: PartitionOffset[]) =>
      new Promise<void>((resolve) => {
        sent.push(offsets);
        acks.push(resolve);
      }),
  );
  const ack = async () => {
    acks.shift()!();
    // Let the drain loop take its next turn.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { sent, send, ack };
}

/** Offsets committing through `send`, owning partition 0, with that partition's tracker. */
function onePartition(send: (offsets: PartitionOffset[]) => Promise<void>, commits = true) {
  const offsets = new ConsumerOffsets(send, commits, jest.fn());
  offsets.reassign([0]);
  return { offsets, tracker: offsets.tracker(0) };
}

describe('ConsumerOffsets', () => {
  it('sends one commit at a time and folds what moved meanwhile into the next, per partition', async () => {
    const broker = fakeBroker();
    const offsets = new ConsumerOffsets(broker.send, true, jest.fn());
    offsets.reassign([0, 1]);
    const p0 = offsets.tracker(0);
    const p1 = offsets.tracker(1);

    p0.handled(10);
    offsets.commit(0, p0);
    for (const offset of [11, 12, 13]) {
      p0.handled(offset);
      offsets.commit(0, p0);
    }
    p1.handled(4);
    offsets.commit(1, p1);
    expect(broker.sent).toEqual([[{ partition: 0, offset: 11 }]]);

    await broker.ack();
    expect(broker.sent[1]).toEqual([
      { partition: 0, offset: 14 },
      { partition: 1, offset: 5 },
    ]);
    await broker.ack();
    await offsets.flush();
    expect(broker.send).toHaveBeenCalledTimes(2);
  });

  it('never commits past a held message, and commits past it once it is released', async () => {
    const broker = fakeBroker();
    const { offsets, tracker } = onePartition(broker.send);
    const release = tracker.hold(7);
    tracker.handled(7);
    tracker.handled(8);
    offsets.commit(0, tracker);
    expect(broker.sent).toEqual([[{ partition: 0, offset: 7 }]]);
    await broker.ack();

    release();
    expect(broker.sent[1]).toEqual([{ partition: 0, offset: 9 }]);
    await broker.ack();
    await offsets.flush();
  });

  it('flush waits for the commits asked for, including ones that queued behind the first', async () => {
    const broker = fakeBroker();
    const { offsets, tracker } = onePartition(broker.send);
    tracker.handled(0);
    offsets.commit(0, tracker);
    tracker.handled(1);
    offsets.commit(0, tracker);

    let flushed = false;
    const flushing = offsets.flush().then(() => (flushed = true));
    await broker.ack();
    expect(flushed).toBe(false);
    await broker.ack();
    await flushing;
    expect(broker.sent.flat()).toEqual([
      { partition: 0, offset: 1 },
      { partition: 0, offset: 2 },
    ]);
  });

  it('drops a release from before a rebalance, and commits nothing when commits are off', async () => {
    const broker = fakeBroker();
    const offsets = new ConsumerOffsets(broker.send, true, jest.fn());
    offsets.reassign([0]);
    const before = offsets.tracker(0);
    const release = before.hold(3);
    before.handled(3);
    offsets.reassign([0]);
    release();
    await offsets.flush();
    expect(broker.send).not.toHaveBeenCalled();

    const view = onePartition(broker.send, false);
    view.tracker.handled(0);
    view.offsets.commit(0, view.tracker);
    await view.offsets.flush();
    expect(broker.send).not.toHaveBeenCalled();
  });

  it('reports a failed commit and goes on with the next', async () => {
    const failure = new Error('coordinator moved');
    const send = jest
      .fn<Promise<void>, [PartitionOffset[]]>()
      .mockRejectedValueOnce(failure)
      .mockResolvedValue(undefined);
    const onError = jest.fn();
    const offsets = new ConsumerOffsets(send, true, onError);
    offsets.reassign([0]);
    const tracker = offsets.tracker(0);
    tracker.handled(0);
    offsets.commit(0, tracker);
    tracker.handled(1);
    offsets.commit(0, tracker);
    await offsets.flush();
    expect(onError).toHaveBeenCalledWith(failure);
    expect(send).toHaveBeenLastCalledWith([{ partition: 0, offset: 2 }]);
  });

  it('commits where a partition starts, and never moves a position back with it', async () => {
    const broker = fakeBroker();
    const { offsets, tracker } = onePartition(broker.send);
    offsets.startAt(0, 7);
    expect(broker.sent).toEqual([[{ partition: 0, offset: 7 }]]);
    await broker.ack();
    tracker.handled(9);
    offsets.startAt(0, 7);
    expect(broker.sent[1]).toEqual([{ partition: 0, offset: 10 }]);
  });
});
