import type { DeadDelivery, WebhookOutbox } from './webhook.outbox';
import { WebhookError, WebhookErrorCode } from './webhook.error';
import type { WebhookSubscription } from './webhook-subscription';

export interface DeadLetterQuery {
  subscriptionId?: string;
  /** The last outbox id of the previous page. */
  afterId?: number;
  pageSize: number;
}

/** Where a subscription stands; the project has no metrics registry, so the API says it. */
export interface SubscriptionCounts {
  subscriptionId: string;
  /** In the outbox: due now or waiting out a backoff. */
  pending: number;
  dead: number;
  /** False for a subscription removed from the configuration that still has rows. */
  configured: boolean;
}

export interface DeadLetterPage {
  deadLetters: DeadDelivery[];
  /** The afterId of the next page; absent on the last. */
  nextAfterId?: number;
  counts: SubscriptionCounts[];
}

export interface DeadLetterServiceOptions {
  outbox: WebhookOutbox;
  subscriptions: readonly WebhookSubscription[];
  /** Told when replayed rows are due, so it sends them now rather than at its next wake. */
  dispatcher: { notify(): void };
  logger?: { log(message: string): void };
}

/**
 * The operator's side of the dead letters: list them with the counts of every subscription,
 * and put them back in the queue (one by one or all at once) once the receiver is fixed. A
 * replayed delivery starts a fresh retry budget and keeps its delivery id, so a receiver that
 * did get it after all can tell.
 */
export class DeadLetterService {
  private readonly configured: Set<string>;

  constructor(private readonly options: DeadLetterServiceOptions) {
    this.configured = new Set(options.subscriptions.map((s) => s.id));
  }

  async list(query: DeadLetterQuery): Promise<DeadLetterPage> {
    // One more than asked tells whether there is a next page without a second query.
    const rows = await this.options.outbox.listDead({
      ...(query.subscriptionId !== undefined ? { subscriptionId: query.subscriptionId } : {}),
      ...(query.afterId !== undefined ? { afterId: query.afterId } : {}),
      limit: query.pageSize + 1,
    });
    const deadLetters = rows.slice(0, query.pageSize);
    return {
      deadLetters,
      ...(rows.length > query.pageSize ? { nextAfterId: deadLetters.at(-1)!.id } : {}),
      counts: await this.counts(),
    };
  }

  async counts(): Promise<SubscriptionCounts[]> {
    const pending = await this.options.outbox.pendingBySubscription();
    const dead = await this.options.outbox.deadBySubscription();
    const ids = new Set([...this.configured, ...pending.keys(), ...dead.keys()]);
    return [...ids].sort().map((subscriptionId) => ({
      subscriptionId,
      pending: pending.get(subscriptionId) ?? 0,
      dead: dead.get(subscriptionId) ?? 0,
      configured: this.configured.has(subscriptionId),
    }));
  }

  /**
   * Replays these dead letters, all or none: an unknown id or one of a subscription no longer
   * configured refuses the whole request. Returns the replayed deliveries.
   */
  async replay(deliveryIds: readonly string[]): Promise<DeadDelivery[]> {
    const found: DeadDelivery[] = [];
    for (const deliveryId of new Set(deliveryIds)) {
      const dead = await this.options.outbox.findDead(deliveryId);
      if (!dead) {
        throw new WebhookError(
          WebhookErrorCode.DEAD_LETTER_NOT_FOUND,
          `dead letter ${deliveryId} not found (replayed already, pruned, or never dead)`,
        );
      }
      this.assertConfigured(dead.subscriptionId);
      found.push(dead);
    }
    await this.options.outbox.replayDead(found.map((dead) => dead.id));
    this.replayed(found.length, [...new Set(found.map((dead) => dead.subscriptionId))]);
    return found;
  }

  /**
   * Replays every dead letter of the configured subscriptions, or of one of them. Letters of
   * subscriptions no longer configured stay where they are. Returns how many were replayed.
   */
  async replayAll(subscriptionId?: string): Promise<number> {
    if (subscriptionId !== undefined) this.assertConfigured(subscriptionId);
    const ids = subscriptionId !== undefined ? [subscriptionId] : [...this.configured];
    const count = await this.options.outbox.replayAllDead(ids);
    this.replayed(count, ids);
    return count;
  }

  private replayed(count: number, subscriptionIds: string[]): void {
    if (count === 0) return;
    this.options.logger?.log(
      `webhooks: ${count} dead deliveries replayed (${subscriptionIds.sort().join(', ')})`,
    );
    this.options.dispatcher.notify();
  }

  private assertConfigured(subscriptionId: string): void {
    if (this.configured.has(subscriptionId)) return;
    throw new WebhookError(
      WebhookErrorCode.SUBSCRIPTION_NOT_CONFIGURED,
      `subscription ${subscriptionId} is not configured: add it back to replay its deliveries`,
    );
  }
}
