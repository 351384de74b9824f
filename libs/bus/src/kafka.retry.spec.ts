import { retryRetriable } from './kafka.retry';

function protocolError(message: string, retriable: boolean): Error {
  return Object.assign(new Error(message), { retriable });
}

describe('retryRetriable', () => {
  it('tries again after a retriable error, backing off, until the call succeeds', async () => {
    const notLeader = protocolError('This server is not the leader for that topic-partition', true);
    const call = jest
      .fn<Promise<string>, []>()
      .mockRejectedValueOnce(notLeader)
      .mockRejectedValueOnce(notLeader)
      .mockResolvedValue('offsets');
    const sleep = jest.fn(async () => undefined);
    await expect(retryRetriable(call, { sleep })).resolves.toBe('offsets');
    expect(sleep.mock.calls).toEqual([[100], [200]]);
  });

  it('gives up at once on an error that is not retriable', async () => {
    const denied = protocolError('Not authorized to access group', false);
    const call = jest.fn<Promise<string>, []>().mockRejectedValue(denied);
    await expect(retryRetriable(call, { sleep: async () => undefined })).rejects.toBe(denied);
    expect(call).toHaveBeenCalledTimes(1);
  });

  it('gives up with the last error once the next wait would pass the deadline', async () => {
    let clock = 0;
    const notLeader = protocolError('not the leader', true);
    const call = jest.fn<Promise<string>, []>().mockRejectedValue(notLeader);
    const sleep = async (ms: number) => void (clock += ms);
    await expect(retryRetriable(call, { sleep, now: () => clock, withinMs: 1_000 })).rejects.toBe(
      notLeader,
    );
    // 100 + 200 + 400 = 700 ms waited; the next 800 ms would end past 1 s.
    expect(call).toHaveBeenCalledTimes(4);
  });
});
