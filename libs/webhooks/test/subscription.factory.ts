import type { WebhookSubscription } from '../src/webhook-subscription';

/** A subscription as the config parser makes them, with the defaults a test may override. */
export function makeSubscription(
  id: string,
  overrides: Partial<WebhookSubscription> = {},
): WebhookSubscription {
  return {
    id,
    url: `https://hooks.example.com/${id}`,
    secret: `secret-of-${id}-0123456789`,
    filter: {},
    retryForMs: 86_400_000,
    timeoutMs: 2_000,
    concurrency: 4,
    backoff: { initialMs: 1_000, maxMs: 300_000 },
    ...overrides,
  };
}
