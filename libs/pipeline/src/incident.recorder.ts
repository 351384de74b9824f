import { withLogContext } from '@app/logging';
import {
  type Bus,
  type BusMessage,
  EDGE_SEQ_HEADER,
  type Headers,
  type Subscription,
} from '@app/bus';
import { Topics, type SecurityEvent, isNotification } from '@app/contracts';
import { triggerMomentId } from '@app/fusion';
import {
  ARTIFACT_FILES,
  type EvidenceRequest,
  type EvidenceWriteResult,
  type EvidenceWriter,
} from '@app/evidence';
import {
  type Clock,
  type EventRepository,
  type EvidenceRef,
  type SqlDatabase,
  type SqlExecutor,
  type StoredEvent,
  SystemClock,
} from '@app/history';
import type { CaptureOptions } from './evidence.tap';
import type { EventFeed } from './event.feed';
import { decodeLabelsHeader, isAnalysisOrigin } from './stream-headers';
import { type Sleeper, realSleeper } from './stream.supervisor';

/**
 * Where alerts wait to be delivered (the webhook outbox). Called with the transaction that
 * stores the event, and writing through it, so an event is stored if and only if its alerts
 * are queued.
 */
export interface IncidentOutbox {
  enqueue(stored: StoredEvent, tx: SqlExecutor): Promise<unknown>;
}

export interface IncidentRecorderLogger {
  warn(message: string): void;
}

export interface IncidentRecorderDeps {
  bus: Bus;
  tap: { capture(event: SecurityEvent, options: CaptureOptions): Promise<EvidenceRequest> };
  writer: Pick<EvidenceWriter, 'write'>;
  /**
   * Where the evidence of an edge stream's versions comes from (the EdgeEvidenceReceiver): an
   * edge sends no media for the tap, but renders each version's evidence and sends it upstream.
   */
  edgeEvidence?: {
    refsFor(event: SecurityEvent, options: CaptureOptions): Promise<EvidenceRef[]>;
    refsForMoment(momentId: string, options: CaptureOptions): Promise<EvidenceRef[]>;
  };
  database: Pick<SqlDatabase, 'transaction'>;
  events: Pick<EventRepository, 'get' | 'save' | 'attachEvidence'>;
  feed: Pick<EventFeed, 'publish'>;
  outbox?: IncidentOutbox;
  clock?: Clock;
  sleeper?: Sleeper;
  logger?: IncidentRecorderLogger;
}

export interface IncidentRecorderOptions {
  /** Consumer group on `vigil.events`; default 'vigil-recorder'. */
  group?: string;
  /**
   * Longest an alert waits for its evidence; default 3000 ms. Evidence that takes longer is
   * attached to the stored event when it is done.
   */
  evidenceTimeoutMs?: number;
  /** Part of that spent waiting for the tap to see the media; default 2000 ms, leaving time to render. */
  captureTimeoutMs?: number;
  /**
   * Longest an edge stream's version waits for the evidence its edge sends (it comes through
   * the edge's spool, behind the detections); past `evidenceTimeoutMs` the alert goes out and
   * the evidence is attached when it comes. Default 60000 ms.
   */
  edgeEvidenceWaitMs?: number;
  /** Events not to record; default: those of one-off analyses (`x-vigil-origin: analysis`). */
  skip?: (event: SecurityEvent, headers: Headers) => boolean;
  /** After an event is committed and on the feed; e.g. wakes the webhook dispatcher. */
  onRecorded?: (stored: StoredEvent) => void;
}

export const RECORDER_GROUP = 'vigil-recorder';

/**
 * Turns incidents into what operators get: evidence first (snapshot, spectrogram, sound), then
 * the event and its queued alerts in one transaction, then the live feed. Evidence is waited for
 * a bounded time only: a slow or failing store delays an alert by seconds, never drops it.
 *
 * One event at a time per bus partition, because the offset may only be committed once the
 * event is stored; other partitions' streams go on meanwhile, and the evidence timeout bounds
 * how long one event holds its partition.
 */
export class IncidentRecorder {
  private readonly group: string;
  private readonly evidenceTimeoutMs: number;
  private readonly captureTimeoutMs: number;
  private readonly edgeEvidenceWaitMs: number;
  private readonly skip: (event: SecurityEvent, headers: Headers) => boolean;
  private readonly clock: Clock;
  private readonly sleeper: Sleeper;
  private readonly logger: IncidentRecorderLogger;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();
  private subscription?: Subscription;

  constructor(
    private readonly deps: IncidentRecorderDeps,
    private readonly options: IncidentRecorderOptions = {},
  ) {
    this.group = options.group ?? RECORDER_GROUP;
    this.evidenceTimeoutMs = nonNegative(options.evidenceTimeoutMs ?? 3000, 'evidenceTimeoutMs');
    this.captureTimeoutMs = nonNegative(
      options.captureTimeoutMs ?? Math.min(2000, this.evidenceTimeoutMs),
      'captureTimeoutMs',
    );
    this.edgeEvidenceWaitMs = nonNegative(
      options.edgeEvidenceWaitMs ?? 60_000,
      'edgeEvidenceWaitMs',
    );
    this.skip = options.skip ?? ((_event, headers) => isAnalysisOrigin(headers));
    this.clock = deps.clock ?? new SystemClock();
    this.sleeper = deps.sleeper ?? realSleeper;
    this.logger = deps.logger ?? { warn: (message) => console.warn(message) };
  }

  async start(): Promise<void> {
    this.subscription = await this.deps.bus.subscribe(Topics.events, this.group, (message) =>
      this.track(this.onEvent(message)),
    );
  }

  /** Stops taking events, then waits for evidence still being written for earlier ones. */
  async stop(): Promise<void> {
    await this.subscription?.close();
    this.stopping.abort();
    await this.idle();
  }

  /** Resolves once no event is being recorded and no late evidence is still being attached. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Records one incident; resolves with what was stored, or undefined when there was nothing to
   * record (skipped, or already stored: a replay). Throws when the history cannot store it, so
   * the bus retries and, failing that, dead-letters it.
   */
  record(event: SecurityEvent, headers: Headers = {}): Promise<StoredEvent | undefined> {
    // Its warnings (evidence late or failed, labels) name the incident and its stream.
    return withLogContext({ streamId: event.streamId, incidentId: event.incidentId }, () =>
      this.recordInContext(event, headers),
    );
  }

  private async recordInContext(
    event: SecurityEvent,
    headers: Headers,
  ): Promise<StoredEvent | undefined> {
    if (this.skip(event, headers)) return undefined;
    // Replayed after a crash or a rebalance: its alerts were queued with it the first time.
    if (await this.deps.events.get(event.id)) return undefined;
    const occurredAt = this.clock.now();
    const streamLabels = decodeLabelsHeader(headers, (problem) =>
      this.logger.warn(`event ${event.id}: ${problem}`),
    );
    // A closing version adds no detection: its evidence is that of the versions before it.
    const evidenceRefs = event.state === 'closed' ? [] : await this.evidenceFor(event, headers);
    const stored = await this.deps.database.transaction(async (tx) => {
      const saved = await this.deps.events.save(
        event,
        { occurredAt, ...(streamLabels ? { streamLabels } : {}), evidenceRefs },
        tx,
      );
      // Stored meanwhile by another recorder (or another replica): its alerts went out with it.
      if (!saved.inserted) return undefined;
      const row = (await this.deps.events.get(event.id, tx))!;
      // Operators are told when an incident opens or escalates; updates and closing are history.
      if (isNotification(event)) await this.deps.outbox?.enqueue(row, tx);
      return row;
    });
    if (!stored) return undefined;
    this.deps.feed.publish(stored);
    try {
      this.options.onRecorded?.(stored);
    } catch (error) {
      // Committed and queued already: a failing hook must not make the bus replay the event.
      this.logger.warn(`onRecorded failed for ${event.id}: ${describe(error)}`);
    }
    return stored;
  }

  private async onEvent({ value, headers }: BusMessage<SecurityEvent>): Promise<void> {
    await this.record(value, headers);
  }

  /** The refs of what was stored in time; what comes later is attached to the stored event. */
  private async evidenceFor(event: SecurityEvent, headers: Headers): Promise<EvidenceRef[]> {
    // Fusion passes on the headers of the detections it decided from: an edge's carry its id.
    const fromEdge = this.deps.edgeEvidence && headers[EDGE_SEQ_HEADER] !== undefined;
    const writing = fromEdge ? this.edgeEvidenceOf(event) : this.writeEvidence(event);
    const timer = new AbortController();
    const timedOut = this.sleeper.sleep(this.evidenceTimeoutMs, timer.signal).then(() => undefined);
    const refs = await Promise.race([writing, timedOut]);
    timer.abort();
    if (refs) return refs;
    this.logger.warn(
      `evidence for ${event.id} not stored within ${this.evidenceTimeoutMs} ms: ` +
        'recording the event without it, attaching it once written',
    );
    this.track(writing.then((late) => this.attachLate(event, late)));
    return [];
  }

  /** Never rejects: evidence its edge did not send in time is logged, and the event recorded regardless. */
  private async edgeEvidenceOf(event: SecurityEvent): Promise<EvidenceRef[]> {
    try {
      const wait = { timeoutMs: this.edgeEvidenceWaitMs, signal: this.stopping.signal };
      // A site or zone incident: the edge rendered its trigger camera's own version, not it.
      const site = (event.cameras?.length ?? 0) > 0;
      const refs = site
        ? await this.deps.edgeEvidence!.refsForMoment(triggerMomentId(event), wait)
        : await this.deps.edgeEvidence!.refsFor(event, wait);
      if (refs.length === 0) {
        this.logger.warn(
          `event ${event.id}: no evidence from its edge within ${this.edgeEvidenceWaitMs} ms`,
        );
      }
      return refs;
    } catch (error) {
      this.logger.warn(`edge evidence for ${event.id} failed: ${describe(error)}`);
      return [];
    }
  }

  /** Never rejects: missing evidence is logged, and the event is recorded regardless. */
  private async writeEvidence(event: SecurityEvent): Promise<EvidenceRef[]> {
    let result: EvidenceWriteResult;
    try {
      const request = await this.deps.tap.capture(event, {
        timeoutMs: this.captureTimeoutMs,
        signal: this.stopping.signal,
      });
      const missing = (['frame', 'audioWindow', 'audioClip'] as const).filter((k) => !request[k]);
      if (missing.length > 0) {
        this.logger.warn(`event ${event.id}: no ${missing.join(', ')} buffered for its evidence`);
      }
      result = await this.deps.writer.write(request);
    } catch (error) {
      this.logger.warn(`evidence for ${event.id} failed: ${describe(error)}`);
      return [];
    }
    for (const failure of result.errors) {
      this.logger.warn(`evidence ${failure.kind} for ${event.id} failed: ${failure.error.message}`);
    }
    return Object.entries(result.refs).map(([kind, ref]) => ({
      name: ARTIFACT_FILES[kind as keyof typeof ARTIFACT_FILES].name,
      key: ref.key,
      contentType: ref.contentType,
      bytes: ref.bytes,
      sha256: ref.sha256,
    }));
  }

  private async attachLate(event: SecurityEvent, refs: EvidenceRef[]): Promise<void> {
    if (refs.length === 0) return;
    try {
      await this.deps.events.attachEvidence(event.id, refs);
    } catch (error) {
      // Not stored (its save failed and the bus retries it, writing evidence again) or removed.
      this.logger.warn(`late evidence for ${event.id} not attached: ${describe(error)}`);
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const forget = () => void this.inFlight.delete(work);
    work.then(forget, forget);
    return work;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a number ≥ 0 (got ${value})`);
  }
  return value;
}
