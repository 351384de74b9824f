import { createHash } from 'node:crypto';

/**
 * X-Vigil-Delivery-Id: one per (subscription, event), the same on every attempt, after a
 * restart and after a replay from the dead letters, and the id the API and the CLI replay by.
 * Derived rather than drawn, like event ids: the same delivery has the same id wherever it is
 * computed, so the outbox migration can give rows queued before it theirs.
 */
export function webhookDeliveryId(subscriptionId: string, eventId: string): string {
  const hex = createHash('sha256')
    .update(`vigil.webhook-delivery\u0000${subscriptionId}\u0000${eventId}`)
    .digest('hex');
  // UUID-shaped (version nibble 5: name-based), as event ids are.
  const variant = ((parseInt(hex[16]!, 16) & 3) | 8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const DELIVERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isWebhookDeliveryId(value: string): boolean {
  return DELIVERY_ID.test(value);
}
