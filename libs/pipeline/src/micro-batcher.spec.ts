import { MicroBatcher } from './micro-batcher';

describe('MicroBatcher', () => {
  it('runs a lone request alone and groups requests that arrive together', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      runs.push(inputs);
      return inputs.map((x) => x * 2);
    }, 3);
    expect(await batcher.submit(1)).toBe(2);
    const results = await Promise.all([2, 3, 4, 5].map((x) => batcher.submit(x)));
    expect(results).toEqual([4, 6, 8, 10]);
    expect(runs).toEqual([[1], [2, 3, 4], [5]]);
  });

  it('rejects every request of a failed batch and keeps serving', async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>(async (inputs) => {
      if (fail) throw new Error('model crashed');
      return inputs;
    }, 8);
    await expect(Promise.all([batcher.submit(1), batcher.submit(2)])).rejects.toThrow(
      'model crashed',
    );
    fail = false;
    await expect(batcher.submit(3)).resolves.toBe(3);
  });
});
