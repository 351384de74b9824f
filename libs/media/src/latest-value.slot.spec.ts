import { LatestValueSlot } from './latest-value.slot';

describe('LatestValueSlot', () => {
  it('keeps only the newest value and counts the ones it replaced', async () => {
    const slot = new LatestValueSlot<number>();
    slot.put(1);
    slot.put(2);
    slot.put(3);
    expect(slot.dropped).toBe(2);
    expect(await slot.take()).toEqual({ item: 3 });
  });

  it('wakes a waiting consumer without counting a drop, and ends after close', async () => {
    const slot = new LatestValueSlot<number>();
    const waiting = slot.take();
    slot.put(7);
    expect(await waiting).toEqual({ item: 7 });
    slot.put(8);
    slot.close();
    expect(await slot.take()).toEqual({ item: 8 });
    expect(await slot.take()).toBeUndefined();
    expect(slot.dropped).toBe(0);
  });

  it('releases a waiting consumer on close', async () => {
    const slot = new LatestValueSlot<number>();
    const waiting = slot.take();
    slot.close();
    expect(await waiting).toBeUndefined();
  });
});
