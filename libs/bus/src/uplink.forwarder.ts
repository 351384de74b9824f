import type { DiskSpool, SpooledRecord } from './disk.spool';

/** Where spooled records go: the central Kafka, in the deployment. */
export interface UplinkSink {
  /** Publishes the records in order (per key); resolves once the far side accepted all. */
  send(records: readonly SpooledRecord[]): Promise<void>;
  close(): Promise<void>;
}

export interface UplinkObserver {
  /** Records accepted upstream and their bytes as spooled (payload, key, headers, framing). */
  delivered(records: number, bytes: number): void;
  /** The same, per topic (an edge's evidence beside its detections). */
  deliveredTopic?(topic: string, records: number, bytes: number): void;
  /** Whether the last attempt reached the far side. */
  up(up: boolean): void;
  failed(error: unknown): void;
}

export interface UplinkForwarderOptions {
  /** Records per send (default 500). */
  batch?: number;
  /** Backoff between failed sends: doubling from initialMs to maxMs, with jitter. */
  backoff?: { initialMs: number; maxMs: number };
  observer?: UplinkObserver;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

/**
 * The header each forwarded message carries, `<edge id>:<seq>`: its place in this edge's spool,
 * a message id (fusion's EdgeCopyFilter reads it).
 */
export const EDGE_SEQ_HEADER = 'x-vigil-edge-seq';

/**
 * Drains a spool into a sink, oldest first, one batch at a time: a batch is acknowledged in the
 * spool only after the sink accepted all of it, so a cut link or a crash sends it again rather
 * than losing it. A failed sink is closed and a fresh one made for the next try (a Kafka
 * producer that lost its broker mid-request is not worth nursing back), after a backoff.
 */
export class UplinkForwarder {
  private controller?: AbortController;
  private loop?: Promise<void>;
  private sink?: UplinkSink;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly spool: DiskSpool,
    private readonly connect: () => UplinkSink,
    private readonly options: UplinkForwarderOptions = {},
  ) {}

  start(): void {
    if (this.loop) return;
    this.controller = new AbortController();
    this.loop = this.run(this.controller.signal);
  }

  /** Resolves once everything spooled so far was delivered. */
  drained(signal?: AbortSignal): Promise<void> {
    if (this.spool.pending === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.idleWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(new Error('not drained')), { once: true });
    });
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    await this.loop;
    this.loop = undefined;
    await this.sink?.close().catch(() => undefined);
    this.sink = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const batch = this.options.batch ?? 500;
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 10_000 };
    const sleep = this.options.sleep ?? abortableSleep;
    const random = this.options.random ?? Math.random;
    let failures = 0;
    while (!signal.aborted) {
      const records = await this.spool.peek(batch);
      if (records.length === 0) {
        this.idleWaiters.splice(0).forEach((wake) => wake());
        await this.spool.whenReadable(signal);
        continue;
      }
      try {
        this.sink ??= this.connect();
        // A stop does not wait out a request to a far side that stopped answering: what was in
        // flight stays in the spool and goes again at the next start (its ids say it is a copy).
        await untilAborted(this.sink.send(records), signal);
      } catch (error) {
        if (signal.aborted) break;
        this.options.observer?.failed(error);
        this.options.observer?.up(false);
        const failed = this.sink;
        this.sink = undefined;
        await failed?.close().catch(() => undefined);
        // The same records, in the same order, go out again on the next try.
        this.spool.rewind();
        failures += 1;
        const ceiling = Math.min(maxMs, initialMs * 2 ** (failures - 1));
        await sleep(Math.round(ceiling / 2 + (random() * ceiling) / 2), signal);
        continue;
      }
      failures = 0;
      this.options.observer?.up(true);
      await this.spool.ack(records[records.length - 1].seq);
      this.options.observer?.delivered(
        records.length,
        records.reduce((sum, r) => sum + r.bytes, 0),
      );
      if (this.options.observer?.deliveredTopic) {
        const byTopic = new Map<string, { records: number; bytes: number }>();
        for (const r of records) {
          const sum = byTopic.get(r.topic) ?? { records: 0, bytes: 0 };
          sum.records += 1;
          sum.bytes += r.bytes;
          byTopic.set(r.topic, sum);
        }
        for (const [topic, sum] of byTopic)
          this.options.observer.deliveredTopic(topic, sum.records, sum.bytes);
      }
      if (this.spool.pending === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
    }
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined); // settled by nobody now: not an unhandled rejection
    return Promise.reject(new Error('stopped'));
  }
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(new Error('stopped'));
    signal.addEventListener('abort', stop, { once: true });
    work.then(
      (value) => (signal.removeEventListener('abort', stop), resolve(value)),
      (error: unknown) => (signal.removeEventListener('abort', stop), reject(error)),
    );
  });
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
