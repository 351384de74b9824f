import { MemoryBus } from '@app/bus';
import { type DetectionSet, type Modality, Topics } from '@app/contracts';
import { DetectionLagPacer } from './downstream.pacer';

function set(streamId: string, modality: Modality, endSec: number, final = false): DetectionSet {
  return {
    streamId,
    modality,
    seq: 0,
    startSec: endSec,
    endSec,
    atSec: endSec,
    model: 'm',
    detections: [],
    ...(final ? { final } : {}),
  };
}

/** Whether the promise settled by the time the bus had nothing left to deliver. */
async function settled(promise: Promise<void>, bus: MemoryBus): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await bus.idle();
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('DetectionLagPacer', () => {
  let bus: MemoryBus;
  let pacer: DetectionLagPacer;

  beforeEach(async () => {
    bus = new MemoryBus({ partitions: 2 });
    pacer = new DetectionLagPacer(bus, { maxLagSec: 5, group: 'pacer' });
    await pacer.start();
  });

  afterEach(async () => {
    await pacer.stop();
    await bus.close();
  });

  it('admits up to the bound ahead of where pacing began, then waits for detections of that modality', async () => {
    await pacer.admit('cam', 'video', 0);
    await pacer.admit('cam', 'video', 5);
    const held = pacer.admit('cam', 'video', 5.2);
    expect(await settled(held, bus)).toBe(false);
    // Audio coming back says nothing about video.
    await bus.publish(Topics.detections, 'cam', set('cam', 'audio', 3));
    expect(await settled(held, bus)).toBe(false);
    await bus.publish(Topics.detections, 'cam', set('cam', 'video', 0.2));
    expect(await settled(held, bus)).toBe(true);
    expect(pacer.lagSec('cam', 'video', 5.2)).toBeCloseTo(5);
  });

  it('paces each stream on its own detections', async () => {
    await pacer.admit('a', 'audio', 0);
    await pacer.admit('b', 'audio', 0);
    const a = pacer.admit('a', 'audio', 10);
    const b = pacer.admit('b', 'audio', 10);
    await bus.publish(Topics.detections, 'b', set('b', 'audio', 6));
    expect(await settled(b, bus)).toBe(true);
    expect(await settled(a, bus)).toBe(false);
    await bus.publish(Topics.detections, 'a', set('a', 'audio', 5));
    expect(await settled(a, bus)).toBe(true);
  });

  it('lets a waiting stream go when it ends downstream, when its run aborts, and when the pacer stops', async () => {
    await pacer.admit('ended', 'video', 0);
    const ended = pacer.admit('ended', 'video', 60);
    await bus.publish(Topics.detections, 'ended', set('ended', 'video', 0, true));
    expect(await settled(ended, bus)).toBe(true);

    const controller = new AbortController();
    await pacer.admit('aborted', 'video', 0);
    const aborted = pacer.admit('aborted', 'video', 60, controller.signal);
    expect(await settled(aborted, bus)).toBe(false);
    controller.abort('handed-over');
    expect(await settled(aborted, bus)).toBe(true);

    await pacer.admit('stalled', 'audio', 0);
    const stalled = pacer.admit('stalled', 'audio', 60);
    expect(await settled(stalled, bus)).toBe(false);
    await pacer.stop();
    expect(await settled(stalled, bus)).toBe(true);
  });

  it('ignores detections of streams it does not pace', async () => {
    await bus.publish(Topics.detections, 'elsewhere', set('elsewhere', 'video', 100));
    await bus.idle();
    expect(pacer.lagSec('elsewhere', 'video', 100)).toBeUndefined();
  });
});
