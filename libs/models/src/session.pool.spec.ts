import { strictMock } from '@app/testing/strict-mock';
import type { ModelSession, TensorData } from './model-session';
import { SessionPool } from './session.pool';

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function session(name: string, pending: Map<string, (v: Record<string, TensorData>) => void>[]) {
  const calls = new Map<string, (v: Record<string, TensorData>) => void>();
  pending.push(calls);
  let n = 0;
  return strictMock<ModelSession>(name, {
    inputNames: ['images'],
    outputNames: ['output'],
    executionProvider: 'cpu',
    run: jest.fn(() => {
      const reply = deferred<Record<string, TensorData>>();
      calls.set(`${name}#${n++}`, reply.resolve);
      return reply.promise;
    }),
    release: jest.fn(async () => undefined),
  });
}

describe('SessionPool', () => {
  const feeds = { images: { data: new Float32Array(1), dims: [1] } };
  const out = { output: { data: new Float32Array(1), dims: [1] } };

  it('sends each run to the session with the fewest runs in flight', async () => {
    const pending: Map<string, (v: Record<string, TensorData>) => void>[] = [];
    const [a, b] = [session('a', pending), session('b', pending)];
    const pool = new SessionPool([a, b]);
    const first = pool.run(feeds); // a: 1, b: 0
    const second = pool.run(feeds); // b: 1
    const third = pool.run(feeds); // a: 2 (ties go to the first)
    expect([a.run, b.run].map((r) => (r as jest.Mock).mock.calls.length)).toEqual([2, 1]);
    pending[1]!.get('b#0')!(out);
    await second;
    void pool.run(feeds); // b is free again
    expect((b.run as jest.Mock).mock.calls.length).toBe(2);
    pending[0]!.get('a#0')!(out);
    pending[0]!.get('a#1')!(out);
    await expect(Promise.all([first, third])).resolves.toEqual([out, out]);
  });

  it('speaks for its sessions and releases them all', async () => {
    const pending: Map<string, (v: Record<string, TensorData>) => void>[] = [];
    const sessions = [session('a', pending), session('b', pending)];
    const pool = new SessionPool(sessions);
    expect([pool.inputNames, pool.outputNames, pool.executionProvider]).toEqual([
      ['images'],
      ['output'],
      'cpu',
    ]);
    await pool.release();
    for (const s of sessions) expect(s.release).toHaveBeenCalledTimes(1);
    expect(() => new SessionPool([])).toThrow('at least one session');
  });
});
