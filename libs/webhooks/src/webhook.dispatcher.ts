import type { Bus } from '@app/bus';
import { Topics } from '@app/contracts';
import { SystemClock, type Clock } from '@app/history';
import { TimerSleeper, type Sleeper } from './abortable.sleeper';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { HttpSender, type WebhookSender } from './http.sender';
import { RetryPolicy, type DeliveryDecision } from './retry.policy';
import type { DeadDelivery, PendingDelivery, WebhookOutbox } from './webhook.outbox';
import { signWebhook } from './webhook.signer';
import type { WebhookSubscription } from './webhook-subscription';
import { redactWebhookUrl } from './webhook-url.redactor';

export const WEBHOOK_USER_AGENT = 'vigil-webhooks/0.1';

export interface WebhookLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Hooks for metrics and tests; called after the outbox recorded the outcome. */
export interface DeliveryObserver {
  delivered?(delivery: { subscriptionId: string; eventId: string; attempt: number }): void;
  retrying?(delivery: {
    subscriptionId: string;
    eventId: string;
    attempt: number;
    delayMs: number;
    reason: string;
  }): void;
  dead?(dead: DeadDelivery): void;
}

export interface WebhookDispatcherOptions {
  outbox: WebhookOutbox;
  subscriptions: readonly WebhookSubscription[];
  /** Where dead letters go (Topics.webhookDeadLetters). */
  bus: Bus;
  sender?: WebhookSender;
  clock?: Clock;
  sleeper?: Sleeper;
  /** Holds the randomness of the jitter. */
  policy?: RetryPolicy;
  logger?: WebhookLogger;
  observer?: DeliveryObserver;
  /** How long stop() lets attempts in flight finish before aborting them; default 5 s. */
  stopGraceMs?: number;
  /** Pause of a loop after an unexpected error (a locked or full disk) before it goes on. */
  errorDelayMs?: number;
  /** Wait after the bus refused a dead letter, doubling up to maxMs; default 1 s to 60 s. */
  deadLetterRetry?: { initialMs: number; maxMs: number };
}

const SILENT: WebhookLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** One subscriber's loop and how to wake it when rows are queued. */
interface Lane {
  subscription: WebhookSubscription;
  /** For logs: no credentials, no query. */
  safeUrl: string;
  wake?: () => void;
}

/**
 * Delivers the outbox. Each subscription has a loop of its own that loads only the head of its
 * queue, posts it, and moves on only once the head is delivered or given up on: strict event
 * order per subscriber, one request in flight per subscriber, and a subscriber that is slow or
 * down holds up nobody else (its backlog waits on disk, not in memory).
 *
 * One dispatcher per database file: two would deliver the same rows twice.
 */
export class WebhookDispatcher {
  private readonly outbox: WebhookOutbox;
  private readonly sender: WebhookSender;
  private readonly clock: Clock;
  private readonly sleeper: Sleeper;
  private readonly policy: RetryPolicy;
  private readonly logger: WebhookLogger;
  private readonly observer: DeliveryObserver;
  private readonly stopGraceMs: number;
  private readonly errorDelayMs: number;
  private readonly lanes: Lane[];
  private readonly deadLetters: DeadLetterPublisher;
  /** Aborted by stop(): ends waits for work and backoff sleeps at once. */
  private readonly idle = new AbortController();
  /** Aborted when stop()'s grace is over: cuts attempts still in flight. */
  private readonly inFlight = new AbortController();
  private tasks: Promise<void>[] = [];
  private state: 'new' | 'running' | 'stopping' = 'new';
  private stopped?: Promise<void>;

  constructor(options: WebhookDispatcherOptions) {
    this.outbox = options.outbox;
    this.sender = options.sender ?? new HttpSender();
    this.clock = options.clock ?? new SystemClock();
    this.sleeper = options.sleeper ?? new TimerSleeper();
    this.policy = options.policy ?? new RetryPolicy();
    this.logger = options.logger ?? SILENT;
    this.observer = options.observer ?? {};
    this.stopGraceMs = options.stopGraceMs ?? 5_000;
    this.errorDelayMs = options.errorDelayMs ?? 1_000;
    const ids = new Set<string>();
    for (const subscription of options.subscriptions) {
      if (ids.has(subscription.id)) {
        throw new Error(`webhook subscription id ${subscription.id} is used twice`);
      }
      ids.add(subscription.id);
    }
    this.lanes = options.subscriptions.map((subscription) => ({
      subscription,
      safeUrl: redactWebhookUrl(subscription.url),
    }));
    this.deadLetters = new DeadLetterPublisher({
      outbox: this.outbox,
      bus: options.bus,
      sleeper: this.sleeper,
      logger: this.logger,
      ...(options.deadLetterRetry ? { retry: options.deadLetterRetry } : {}),
    });
  }

  /**
   * Starts one loop per subscription, and the dead-letter publisher. Rows pending from before
   * a restart go first, at the time their backoff said.
   */
  start(): void {
    if (this.state !== 'new') throw new Error('a webhook dispatcher starts once');
    this.state = 'running';
    const configured = new Set(this.lanes.map((lane) => lane.subscription.id));
    for (const [id, count] of this.outbox.pendingBySubscription()) {
      if (!configured.has(id)) {
        this.logger.warn(
          `webhooks: ${count} deliveries queued for subscription ${id}, which is no longer ` +
            'configured; they stay in the outbox until it is configured again',
        );
      }
    }
    this.tasks = [
      ...this.lanes.map((lane) => this.run(lane)),
      this.deadLetters.run(this.idle.signal),
    ];
  }

  /** Rows were committed: wakes the loops that had nothing to do. Cheap; call it freely. */
  notify(): void {
    for (const lane of this.lanes) lane.wake?.();
  }

  /**
   * Stops the loops. Attempts in flight get `stopGraceMs` to finish (a 2xx is then recorded);
   * after that they are aborted, uncounted, and stay pending for the next start. Resolves once
   * every loop has ended, or after a second grace period if one is stuck (say, in a publish to
   * a bus that does not answer; its letter is published again at the next start).
   */
  stop(): Promise<void> {
    this.stopped ??= this.halt();
    return this.stopped;
  }

  private async halt(): Promise<void> {
    const wasRunning = this.state === 'running';
    // stopped before it started: it never will
    this.state = 'stopping';
    if (!wasRunning) return;
    this.idle.abort();
    const all = Promise.allSettled(this.tasks).then(() => true);
    if (await this.within(all, this.stopGraceMs)) return;
    this.inFlight.abort();
    if (await this.within(all, this.stopGraceMs)) return;
    this.logger.warn('webhooks: stopped without waiting for a loop that did not end in time');
  }

  private async within(done: Promise<boolean>, ms: number): Promise<boolean> {
    const timer = new AbortController();
    const result = await Promise.race([
      done,
      this.sleeper.sleep(ms, timer.signal).then(() => false),
    ]);
    timer.abort();
    return result;
  }

  private async run(lane: Lane): Promise<void> {
    const { subscription } = lane;
    while (this.state === 'running') {
      try {
        const head = this.outbox.head(subscription.id);
        if (!head) {
          await this.waitForWork(lane);
          continue;
        }
        const wait = head.nextAttemptAt - this.clock.now();
        if (wait > 0) {
          await this.sleeper.sleep(wait, this.idle.signal);
          continue;
        }
        await this.attempt(lane, head);
      } catch (error) {
        this.logger.error(
          `webhooks ${subscription.id}: ${errorText(error)}; going on in ${this.errorDelayMs} ms`,
        );
        await this.sleeper.sleep(this.errorDelayMs, this.idle.signal);
      }
    }
  }

  private waitForWork(lane: Lane): Promise<void> {
    if (this.idle.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        lane.wake = undefined;
        this.idle.signal.removeEventListener('abort', done);
        resolve();
      };
      lane.wake = done;
      this.idle.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async attempt(lane: Lane, head: PendingDelivery): Promise<void> {
    const { subscription } = lane;
    const attempt = head.attempts + 1;
    const timestamp = Math.floor(this.clock.now() / 1000);
    const outcome = await this.sender.send({
      url: subscription.url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': WEBHOOK_USER_AGENT,
        'X-Vigil-Event-Id': head.eventId,
        'X-Vigil-Timestamp': String(timestamp),
        'X-Vigil-Signature': signWebhook(subscription.secret, timestamp, head.body),
        'X-Vigil-Delivery-Attempt': String(attempt),
      },
      body: head.body,
      timeoutMs: subscription.timeoutMs,
      signal: this.inFlight.signal,
    });
    const now = this.clock.now();
    const decision = this.policy.decide(outcome, attempt, subscription, now);
    this.apply(decision, lane, head, attempt, now);
  }

  /** Every decision of the retry policy has its handler; a new kind fails to compile. */
  private apply(
    decision: DeliveryDecision,
    lane: Lane,
    head: PendingDelivery,
    attempt: number,
    now: number,
  ): void {
    const { subscription, safeUrl } = lane;
    const ids = { subscriptionId: subscription.id, eventId: head.eventId, attempt };
    const handlers: {
      [K in DeliveryDecision['kind']]: (d: Extract<DeliveryDecision, { kind: K }>) => void;
    } = {
      delivered: () => {
        this.outbox.complete(head.id);
        if (attempt > 1) {
          this.logger.log(
            `webhooks ${subscription.id} (${safeUrl}): event ${head.eventId} delivered on ` +
              `attempt ${attempt}`,
          );
        }
        this.observer.delivered?.(ids);
      },
      retry: (d) => {
        this.outbox.markFailedAttempt(head.id, {
          attempts: attempt,
          nextAttemptAt: now + d.delayMs,
          error: d.reason,
          ...(d.status !== undefined ? { status: d.status } : {}),
        });
        this.logger.warn(
          `webhooks ${subscription.id} (${safeUrl}): event ${head.eventId} attempt ${attempt}/` +
            `${subscription.maxAttempts} failed (${d.reason}); next in ${d.delayMs} ms`,
        );
        this.observer.retrying?.({ ...ids, delayMs: d.delayMs, reason: d.reason });
      },
      dead: (d) => {
        const dead = this.outbox.kill(head.id, {
          url: safeUrl,
          attempts: attempt,
          reason: d.reason,
          ...(d.status !== undefined ? { status: d.status } : {}),
        });
        if (!dead) return;
        this.logger.error(
          `webhooks ${subscription.id} (${safeUrl}): event ${head.eventId} given up on: ` +
            `${d.reason}; goes to ${Topics.webhookDeadLetters.name}`,
        );
        this.observer.dead?.(dead);
        this.deadLetters.notify();
      },
      abandoned: () => undefined,
    };
    (handlers[decision.kind] as (d: DeliveryDecision) => void)(decision);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
