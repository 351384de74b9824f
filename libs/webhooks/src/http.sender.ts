export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborts the attempt when the dispatcher stops; the outcome is then `aborted`. */
  signal?: AbortSignal;
}

/** What came of one attempt. Never an exception: every way a POST can end is one of these. */
export type SendOutcome =
  | { kind: 'ok'; status: number }
  | { kind: 'http'; status: number; retryAfter?: string }
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'network'; error: string }
  | { kind: 'aborted' };

export interface WebhookSender {
  send(request: WebhookRequest): Promise<SendOutcome>;
}

/** Read from a response before it is dropped, so a chatty receiver cannot hold us up. */
const MAX_DRAINED_BYTES = 64 * 1024;

/**
 * POSTs with Node's global fetch (undici), no dependency: the job is one request with a
 * deadline. Redirects are not followed (fetch would turn a 302'd POST into a GET), so a moved
 * receiver shows up as a failure with its status instead of silently losing bodies.
 */
export class HttpSender implements WebhookSender {
  async send(request: WebhookRequest): Promise<SendOutcome> {
    if (request.signal?.aborted) return { kind: 'aborted' };
    // One controller per attempt, tied to the caller's signal by a listener removed at the end:
    // AbortSignal.any would leave a record of every attempt on the dispatcher's long-lived
    // signal for as long as it lives.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, request.timeoutMs);
    const stop = () => controller.abort();
    request.signal?.addEventListener('abort', stop, { once: true });
    try {
      const { url, authorization } = splitCredentials(request.url);
      const headers = authorization ? { ...request.headers, authorization } : request.headers;
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: request.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      // The status decides; a body cut short or trickled until the deadline changes nothing,
      // so a 2xx whose body then fails is still delivered (and not posted twice).
      await drain(response).catch(() => undefined);
      if (response.status >= 200 && response.status < 300) {
        return { kind: 'ok', status: response.status };
      }
      const retryAfter = response.headers.get('retry-after');
      return {
        kind: 'http',
        status: response.status,
        ...(retryAfter !== null ? { retryAfter } : {}),
      };
    } catch (error) {
      if (request.signal?.aborted) return { kind: 'aborted' };
      if (timedOut) return { kind: 'timeout', afterMs: request.timeoutMs };
      return { kind: 'network', error: describe(error) };
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', stop);
    }
  }
}

/**
 * fetch refuses URLs with userinfo; `https://user:pass@host/` is still a common way to give a
 * receiver basic auth, so it travels as an Authorization header instead.
 */
function splitCredentials(raw: string): { url: string; authorization?: string } {
  const url = new URL(raw);
  if (!url.username && !url.password) return { url: raw };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const token = Buffer.from(`${user}:${password}`).toString('base64');
  return { url: url.href, authorization: `Basic ${token}` };
}

/** Reads a little of the body and cancels the rest, so the socket is released either way. */
async function drain(response: Response): Promise<void> {
  const body = response.body;
  if (!body) return;
  const reader = body.getReader();
  let read = 0;
  try {
    while (read <= MAX_DRAINED_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } finally {
    reader.releaseLock();
  }
}

/** undici says "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND…) in `cause`. */
function describe(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const source = cause ?? error;
  const code = (source as { code?: unknown })?.code;
  const message = source instanceof Error ? source.message : String(source);
  // Error texts from the network stack name hosts and ports, never URL credentials, but the
  // URL itself is not repeated here in any case.
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
