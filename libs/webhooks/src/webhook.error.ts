/** What can go wrong when an operator inspects or replays deliveries; mapped to gRPC in libs/api. */
export enum WebhookErrorCode {
  /** No dead letter has that delivery id (never, or already replayed or pruned). */
  DEAD_LETTER_NOT_FOUND = 'DEAD_LETTER_NOT_FOUND',
  /** The subscription is no longer configured: a replayed delivery would wait forever. */
  SUBSCRIPTION_NOT_CONFIGURED = 'SUBSCRIPTION_NOT_CONFIGURED',
}

export class WebhookError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}
