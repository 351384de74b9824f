import { isWebhookDeliveryId, isWebhookSubscriptionId } from '@app/webhooks';
import { ApiError } from './api.error';

/** WebhookService's request validation; failures name the field as the .proto spells it. */

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const MAX_REPLAY_IDS = 500;

export interface DeadLetterPageRequest {
  subscriptionId?: string;
  afterId?: number;
  pageSize: number;
}

export type ReplayTarget =
  { kind: 'deliveries'; deliveryIds: string[] } | { kind: 'all'; subscriptionId?: string };

interface PageToken {
  v: 1;
  after: number;
  subscription: string;
}

export function deadLetterPageRequest(request: {
  subscriptionId?: string;
  pageSize?: number;
  pageToken?: string;
}): DeadLetterPageRequest {
  const subscriptionId = optionalSubscriptionId(request.subscriptionId);
  const size = request.pageSize || DEFAULT_PAGE_SIZE;
  const page: DeadLetterPageRequest = {
    ...(subscriptionId !== undefined ? { subscriptionId } : {}),
    // As ListEvents does: more than the maximum is served as the maximum.
    pageSize: Math.min(size, MAX_PAGE_SIZE),
  };
  if (request.pageToken) page.afterId = decodeToken(request.pageToken, subscriptionId ?? '');
  return page;
}

/** Opaque to clients; it remembers its filter, since another would skip or repeat rows. */
export function deadLetterPageToken(afterId: number, subscriptionId: string | undefined): string {
  const token: PageToken = { v: 1, after: afterId, subscription: subscriptionId ?? '' };
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

export function replayTarget(request: {
  deliveryIds?: string[];
  all?: boolean;
  subscriptionId?: string;
}): ReplayTarget {
  const ids = request.deliveryIds ?? [];
  const subscriptionId = optionalSubscriptionId(request.subscriptionId);
  if (request.all) {
    if (ids.length > 0)
      throw ApiError.invalid('delivery_ids', 'give delivery_ids or all, not both');
    return { kind: 'all', ...(subscriptionId !== undefined ? { subscriptionId } : {}) };
  }
  if (subscriptionId !== undefined) {
    throw ApiError.invalid('subscription_id', 'is only used with all');
  }
  if (ids.length === 0) {
    throw ApiError.invalid('delivery_ids', 'give the delivery ids to replay, or all');
  }
  if (ids.length > MAX_REPLAY_IDS) {
    throw ApiError.invalid('delivery_ids', `has more than ${MAX_REPLAY_IDS} ids (or use all)`);
  }
  ids.forEach((id, i) => {
    if (!isWebhookDeliveryId(id)) {
      throw ApiError.invalid(`delivery_ids[${i}]`, `"${id.slice(0, 64)}" is not a delivery id`);
    }
  });
  return { kind: 'deliveries', deliveryIds: ids };
}

function optionalSubscriptionId(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!isWebhookSubscriptionId(value)) {
    throw ApiError.invalid('subscription_id', 'is not a subscription id');
  }
  return value;
}

function decodeToken(token: string, subscription: string): number {
  let body: Partial<PageToken> | null = null;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<PageToken>;
  } catch {
    body = null;
  }
  if (
    body === null ||
    typeof body !== 'object' ||
    body.v !== 1 ||
    !Number.isSafeInteger(body.after) ||
    (body.after as number) < 0
  ) {
    throw ApiError.invalid('page_token', 'is not a token this server issued');
  }
  if (body.subscription !== subscription) {
    throw ApiError.invalid('page_token', 'comes from a request with another subscription_id');
  }
  return body.after as number;
}
