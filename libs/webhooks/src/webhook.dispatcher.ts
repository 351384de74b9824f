import type { Bus } from '@app/bus';
import { Topics } from '@app/contracts';
import { SystemClock, type Clock } from '@app/history';
import { TimerSleeper, type Sleeper } from './abortable.sleeper';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { HttpSender, type WebhookSender } from './http.sender';
import { RetryPolicy, formatDuration, type DeliveryDecision } from './retry.policy';
import type { DeadDelivery, PendingDelivery, WebhookOutbox } from './webhook.outbox';
import { signWebhook } from './webhook.signer';
import type { WebhookSubscription } from './webhook-subscription';
import { redactWebhookUrl } from './webhook-url.redactor';

export const WEBHOOK_USER_AGENT = 'vigil-webhooks/0.1';
/** Added to a subscription's timeout for the lease of a claimed delivery. */
const LEASE_MARGIN_MS = 5_000;

export interface WebhookLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Hooks for metrics and tests; called after the outbox recorded the outcome. */
export interface DeliveryIds {
  subscriptionId: string;
  deliveryId: string;
  eventId: string;
  attempt: number;
}

export interface DeliveryObserver {
  delivered?(delivery: DeliveryIds): void;
  retrying?(delivery: DeliveryIds & { delayMs: number; reason: string }): void;
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

/** One subscriber's loop, its attempts in flight, and how to wake it. */
interface Lane {
  subscription: WebhookSubscription;
  /** For logs: no credentials, no query. */
  safeUrl: string;
  /** Outbox row ids being attempted now. */
  inFlight: Map<number, Promise<void>>;
  wake?: () => void;
  /** A wake-up that came while the loop was busy, so the next wait returns at once. */
  woken: boolean;
}

/**
 * Delivers the outbox. Each subscription has a loop of its own, and each delivery its own
 * clock: the loop loads only the rows that are due, up to the subscription's `concurrency`
 * at a time, and a delivery that fails waits out its backoff in its row, on disk, while the
 * deliveries behind it go ahead. So one failing event never holds up another, and a subscriber
 * that is slow or down holds up nobody else. Events are first attempted in the order they were
 * stored; once retries interleave, receivers order by the record's times, not by arrival.
 *
 * Every attempt is counted in its row before its request leaves, so a process killed
 * mid-request resends it as the next attempt, with the same X-Vigil-Delivery-Id.
 *
 * Replicas sharing a PostgreSQL history may each run one: a claim leases its row (see
 * WebhookOutbox.claim), so a delivery is attempted by one of them at a time.
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
      inFlight: new Map(),
      woken: false,
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
    void this.outbox.pendingBySubscription().then(
      (pending) => {
        for (const [id, count] of pending) {
          if (!configured.has(id)) {
            this.logger.warn(
              `webhooks: ${count} deliveries queued for subscription ${id}, which is no longer ` +
                'configured; they stay in the outbox until it is configured again',
            );
          }
        }
      },
      (error: unknown) => this.logger.error(`webhooks: ${errorText(error)}`),
    );
    for (const { subscription } of this.lanes) {
      if (subscription.maxAttempts === undefined) continue;
      // A cap from a configuration written before the time budget: honoured, but it may give
      // up long before the budget would (8 attempts last minutes, not a day).
      this.logger.warn(
        `webhooks ${subscription.id}: maxAttempts ${subscription.maxAttempts} gives up on a ` +
          `delivery after that many attempts even within retryForMs ` +
          `(${formatDuration(subscription.retryForMs)}); remove it to retry for the whole budget`,
      );
    }
    this.tasks = [
      ...this.lanes.map((lane) => this.run(lane)),
      this.deadLetters.run(this.idle.signal),
    ];
  }

  /** Rows were committed: wakes the loops that had nothing to do. Cheap; call it freely. */
  notify(): void {
    for (const lane of this.lanes) this.wake(lane);
  }

  /**
   * Stops the loops. Attempts in flight get `stopGraceMs` to finish (a 2xx is then recorded);
   * after that they are aborted, stay counted and are due again at the next start. Resolves
   * once every loop has ended, or after a second grace period if one is stuck (say, in a
   * publish to a bus that does not answer; its letter is published again at the next start).
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

  /**
   * Starts every due delivery there is room for, then waits for whichever comes first: an
   * attempt ending, new rows, or the next delivery's time. Ends, once stopped, after its
   * attempts in flight have.
   */
  private async run(lane: Lane): Promise<void> {
    const { subscription, inFlight } = lane;
    while (this.state === 'running') {
      try {
        const now = this.clock.now();
        const room = subscription.concurrency - inFlight.size;
        if (room > 0) {
          // Rows in flight are still due in the table; ask for enough to see past them.
          const due = (await this.outbox.due(subscription.id, now, room + inFlight.size))
            .filter((delivery) => !inFlight.has(delivery.id))
            .slice(0, room);
          if (due.length > 0) {
            for (const delivery of due) this.begin(lane, delivery);
            continue;
          }
        }
        const next = room > 0 ? await this.outbox.nextDueAfter(subscription.id, now) : undefined;
        await this.waitForWork(lane, next === undefined ? undefined : next - now);
      } catch (error) {
        this.logger.error(
          `webhooks ${subscription.id}: ${errorText(error)}; going on in ${this.errorDelayMs} ms`,
        );
        await this.sleeper.sleep(this.errorDelayMs, this.idle.signal);
      }
    }
    await Promise.allSettled(inFlight.values());
  }

  /** Taken into `inFlight` at once, before the claim: the loop never begins a row twice. */
  private begin(lane: Lane, delivery: PendingDelivery): void {
    const task = this.claimAndAttempt(lane, delivery)
      .catch((error: unknown) =>
        this.logger.error(
          `webhooks ${lane.subscription.id}: event ${delivery.eventId} attempt ` +
            `${delivery.attempts + 1}: ${errorText(error)}`,
        ),
      )
      .finally(() => {
        lane.inFlight.delete(delivery.id);
        this.wake(lane);
      });
    lane.inFlight.set(delivery.id, task);
  }

  private wake(lane: Lane): void {
    if (lane.wake) lane.wake();
    else lane.woken = true;
  }

  /** Until woken, stopped, or `ms` (when given) have passed. */
  private waitForWork(lane: Lane, ms: number | undefined): Promise<void> {
    if (this.idle.signal.aborted) return Promise.resolve();
    if (lane.woken) {
      lane.woken = false;
      return Promise.resolve();
    }
    const timer = new AbortController();
    return new Promise((resolve) => {
      const done = () => {
        if (lane.wake === done) lane.wake = undefined;
        this.idle.signal.removeEventListener('abort', done);
        timer.abort();
        resolve();
      };
      lane.wake = done;
      this.idle.signal.addEventListener('abort', done, { once: true });
      if (ms !== undefined) void this.sleeper.sleep(Math.max(0, ms), timer.signal).then(done);
    });
  }

  private async claimAndAttempt(lane: Lane, delivery: PendingDelivery): Promise<void> {
    // Leased for longer than an attempt can take: another replica's dispatcher leaves it alone
    // meanwhile, and takes it over only if this process died mid-attempt.
    const lease = lane.subscription.timeoutMs + this.stopGraceMs + LEASE_MARGIN_MS;
    const attempt = await this.outbox.claim(delivery, lease);
    if (attempt === undefined) return;
    await this.attempt(lane, delivery, attempt);
  }

  private async attempt(lane: Lane, delivery: PendingDelivery, attempt: number): Promise<void> {
    const { subscription } = lane;
    const timestamp = Math.floor(this.clock.now() / 1000);
    const outcome = await this.sender.send({
      url: subscription.url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': WEBHOOK_USER_AGENT,
        'X-Vigil-Event-Id': delivery.eventId,
        'X-Vigil-Delivery-Id': delivery.deliveryId,
        'X-Vigil-Delivery-Attempt': String(attempt),
        'X-Vigil-Timestamp': String(timestamp),
        'X-Vigil-Signature': signWebhook(subscription.secret, timestamp, delivery.body),
      },
      body: delivery.body,
      timeoutMs: subscription.timeoutMs,
      signal: this.inFlight.signal,
    });
    const now = this.clock.now();
    const decision = this.policy.decide(
      outcome,
      { attempt, retryFrom: delivery.retryFrom, now },
      subscription,
    );
    await this.apply(decision, lane, delivery, attempt, now);
  }

  /** Every decision of the retry policy has its handler; a new kind fails to compile. */
  private async apply(
    decision: DeliveryDecision,
    lane: Lane,
    delivery: PendingDelivery,
    attempt: number,
    now: number,
  ): Promise<void> {
    const { subscription, safeUrl } = lane;
    const ids: DeliveryIds = {
      subscriptionId: subscription.id,
      deliveryId: delivery.deliveryId,
      eventId: delivery.eventId,
      attempt,
    };
    const handlers: {
      [K in DeliveryDecision['kind']]: (d: Extract<DeliveryDecision, { kind: K }>) => Promise<void>;
    } = {
      delivered: async () => {
        await this.outbox.complete(delivery.id);
        if (attempt > 1) {
          this.logger.log(
            `webhooks ${subscription.id} (${safeUrl}): event ${delivery.eventId} delivered on ` +
              `attempt ${attempt}`,
          );
        }
        this.observer.delivered?.(ids);
      },
      retry: async (d) => {
        await this.outbox.markFailedAttempt(delivery.id, {
          nextAttemptAt: now + d.delayMs,
          error: d.reason,
          ...(d.status !== undefined ? { status: d.status } : {}),
        });
        this.logger.warn(
          `webhooks ${subscription.id} (${safeUrl}): event ${delivery.eventId} attempt ` +
            `${attempt} failed (${d.reason}); next in ${d.delayMs} ms`,
        );
        this.observer.retrying?.({ ...ids, delayMs: d.delayMs, reason: d.reason });
      },
      dead: async (d) => {
        const dead = await this.outbox.kill(delivery.id, {
          url: safeUrl,
          attempts: attempt,
          reason: d.reason,
          ...(d.status !== undefined ? { status: d.status } : {}),
        });
        if (!dead) return;
        this.logger.error(
          `webhooks ${subscription.id} (${safeUrl}): event ${delivery.eventId} given up on: ` +
            `${d.reason}; goes to ${Topics.webhookDeadLetters.name}`,
        );
        this.observer.dead?.(dead);
        this.deadLetters.notify();
      },
      // Cut off by stop(): counted already; its lease is given back, due when it was, so the
      // next dispatcher sends it first, in its place.
      abandoned: async () => {
        await this.outbox.release(delivery.id, delivery.nextAttemptAt);
      },
    };
    await (handlers[decision.kind] as (d: DeliveryDecision) => Promise<void>)(decision);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
