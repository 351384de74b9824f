import type { Bus } from '@app/bus';
import { Topics, type WebhookDeadLetter } from '@app/contracts';
import type { Sleeper } from './abortable.sleeper';
import type { DeadDelivery, WebhookOutbox } from './webhook.outbox';

export const DLQ_REASON_HEADER = 'x-vigil-dlq-reason';
export const DLQ_SUBSCRIPTION_HEADER = 'x-vigil-subscription-id';

export interface DeadLetterLogger {
  error(message: string): void;
}

export interface DeadLetterPublisherOptions {
  outbox: WebhookOutbox;
  bus: Bus;
  sleeper: Sleeper;
  logger: DeadLetterLogger;
  /** Wait after the bus refused, doubling up to maxMs while it keeps refusing. */
  retry?: { initialMs: number; maxMs: number };
}

/** Rows read per query: the backlog of unpublished letters stays on disk. */
const BATCH = 16;

/**
 * Publishes the rows of `webhook_dead` that the bus has not accepted yet, oldest first, from a
 * loop of its own: a delivery is given up on by committing its dead row, and the letter follows
 * whenever the bus takes it. So no subscriber loop ever waits on the bus, a bus outage delays
 * letters instead of losing them, and a crash between the two is caught up at the next start.
 * Keyed by subscription id, so one subscriber's letters stay in order on the topic.
 */
export class DeadLetterPublisher {
  private wake?: () => void;

  constructor(private readonly options: DeadLetterPublisherOptions) {}

  /** Runs until `signal` aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    const { outbox, sleeper } = this.options;
    const retry = this.options.retry ?? { initialMs: 1_000, maxMs: 60_000 };
    let failures = 0;
    while (!signal.aborted) {
      let batch: DeadDelivery[];
      try {
        batch = await outbox.unpublished(BATCH);
      } catch (error) {
        this.options.logger.error(`webhook dead letters: cannot read the outbox: ${text(error)}`);
        await sleeper.sleep(retry.maxMs, signal);
        continue;
      }
      if (batch.length === 0) {
        await this.waitForWork(signal);
        continue;
      }
      for (const dead of batch) {
        if (signal.aborted) return;
        if (await this.publish(dead)) {
          failures = 0;
          continue;
        }
        failures += 1;
        await sleeper.sleep(Math.min(retry.maxMs, retry.initialMs * 2 ** (failures - 1)), signal);
        break;
      }
    }
  }

  /** A dead row was committed. */
  notify(): void {
    this.wake?.();
  }

  private async publish(dead: DeadDelivery): Promise<boolean> {
    try {
      await this.options.bus.publish(
        Topics.webhookDeadLetters,
        dead.subscriptionId,
        toDeadLetter(dead),
        { [DLQ_REASON_HEADER]: dead.reason, [DLQ_SUBSCRIPTION_HEADER]: dead.subscriptionId },
      );
      await this.options.outbox.markPublished(dead.id);
      return true;
    } catch (error) {
      this.options.logger.error(
        `webhook dead letters: event ${dead.eventId} for ${dead.subscriptionId} not published ` +
          `yet (${text(error)}); kept in webhook_dead and tried again`,
      );
      return false;
    }
  }

  private waitForWork(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.wake = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

export function toDeadLetter(dead: DeadDelivery): WebhookDeadLetter {
  return {
    subscriptionId: dead.subscriptionId,
    url: dead.url,
    eventId: dead.eventId,
    attempts: dead.attempts,
    reason: dead.reason,
    ...(dead.lastStatus !== undefined ? { lastStatus: dead.lastStatus } : {}),
    body: new TextEncoder().encode(dead.body),
    failedAtMs: dead.failedAt,
    deliveryId: dead.deliveryId,
  };
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
