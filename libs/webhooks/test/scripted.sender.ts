import type { SendOutcome, WebhookRequest, WebhookSender } from '../src/http.sender';

export interface SentRequest extends WebhookRequest {
  /** Lower-cased header names, as a receiver sees them. */
  lower: Record<string, string>;
}

type Answer = SendOutcome | ((request: SentRequest) => SendOutcome | Promise<SendOutcome>);

/**
 * A sender answering from a script per URL: each request takes the next answer, the last one
 * repeats. Answers may be promises the test settles, to hold a request in flight.
 */
export class ScriptedSender implements WebhookSender {
  readonly requests: SentRequest[] = [];
  /** Requests in flight per URL right now, and the most ever seen at once. */
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  private readonly scripts = new Map<string, Answer[]>();

  script(url: string, ...answers: Answer[]): this {
    this.scripts.set(url, answers);
    return this;
  }

  sentTo(url: string): SentRequest[] {
    return this.requests.filter((r) => r.url === url);
  }

  async send(request: WebhookRequest): Promise<SendOutcome> {
    const lower = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const sent = { ...request, lower };
    this.requests.push(sent);
    const answers = this.scripts.get(request.url);
    if (!answers || answers.length === 0) throw new Error(`no script for ${request.url}`);
    const answer = answers.length > 1 ? answers.shift()! : answers[0];
    const now = (this.inFlight.get(request.url) ?? 0) + 1;
    this.inFlight.set(request.url, now);
    this.maxInFlight.set(request.url, Math.max(now, this.maxInFlight.get(request.url) ?? 0));
    try {
      return typeof answer === 'function' ? await answer(sent) : answer;
    } finally {
      this.inFlight.set(request.url, (this.inFlight.get(request.url) ?? 1) - 1);
    }
  }
}

/** A promise the test settles by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
