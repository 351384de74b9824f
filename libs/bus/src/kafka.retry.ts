export interface RetryOptions {
  /** How long to go on trying, from the first call; default 30 s. */
  withinMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Runs `call` again while it fails with an error Kafka calls retriable (kafkajs sets
 * `retriable` on protocol errors such as NOT_LEADER_FOR_PARTITION), backing off from 100 ms to
 * 2 s. Some kafkajs admin calls give up at once on those errors, although one more try a moment
 * later, once the broker has taken over the partition, succeeds.
 */
export async function retryRetriable<T>(
  call: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + (options.withinMs ?? 30_000);
  for (let wait = 100; ; wait = Math.min(2 * wait, 2_000)) {
    try {
      return await call();
    } catch (error) {
      const retriable = (error as { retriable?: unknown } | undefined)?.retriable === true;
      if (!retriable || now() + wait > deadline) throw error;
      await sleep(wait);
    }
  }
}
