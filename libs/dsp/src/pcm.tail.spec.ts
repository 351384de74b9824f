import { PcmTail } from './pcm.tail';

describe('PcmTail', () => {
  const ramp = (from: number, n: number) => Float32Array.from({ length: n }, (_, i) => from + i);

  it('addresses samples by their index in the stream, across growth and drops', () => {
    const tail = new PcmTail(1000);
    tail.append(ramp(1000, 50_000));
    tail.append(ramp(51_000, 50_000));
    tail.dropBefore(90_000);
    const { pcm, offset } = tail.view();
    expect(offset).toBe(90_000);
    expect(pcm.length).toBe(11_000);
    expect(pcm[0]).toBe(90_000);
    expect(pcm[pcm.length - 1]).toBe(100_999);
    expect(tail.end).toBe(101_000);
  });

  it('ignores a drop behind what it holds, and empties on a drop past its end', () => {
    const tail = new PcmTail();
    tail.append(ramp(0, 10));
    tail.dropBefore(-5);
    expect(tail.view()).toEqual({ pcm: ramp(0, 10), offset: 0 });
    tail.dropBefore(50);
    expect(tail.view().pcm.length).toBe(0);
    tail.append(ramp(10, 3));
    expect(tail.view()).toEqual({ pcm: ramp(10, 3), offset: 10 });
  });
});
