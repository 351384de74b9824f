import { TimerSleeper } from './abortable.sleeper';

describe('TimerSleeper', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const settled = (promise: Promise<void>) => {
    let done = false;
    void promise.then(() => (done = true));
    return () => done;
  };

  it('resolves once the time has passed', async () => {
    const done = settled(new TimerSleeper().sleep(1_000, new AbortController().signal));
    await jest.advanceTimersByTimeAsync(999);
    expect(done()).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(done()).toBe(true);
  });

  it('resolves at once when aborted, and leaves no timer behind', async () => {
    const controller = new AbortController();
    const done = settled(new TimerSleeper().sleep(60_000, controller.signal));
    controller.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(done()).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does not wait at all on a signal already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const done = settled(new TimerSleeper().sleep(60_000, controller.signal));
    await Promise.resolve();
    expect(done()).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
  });
});
