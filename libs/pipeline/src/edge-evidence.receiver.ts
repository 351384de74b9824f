import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type EdgeEvidence, type SecurityEvent, Topics } from '@app/contracts';
import { ARTIFACT_FILES, type EvidenceStore } from '@app/evidence';
import type { EvidenceRef } from '@app/history';
import type { CaptureOptions } from './evidence.tap';
import { type Sleeper, realSleeper } from './stream.supervisor';

export interface EdgeEvidenceReceiverOptions {
  /** Consumer group on `vigil.evidence.edge`; default 'vigil-edge-evidence-store'. */
  group?: string;
  /**
   * How often a wait looks in the store as well: another replica may have consumed the
   * evidence into a store they share. Default 1000 ms.
   */
  pollMs?: number;
  /** Largest artifact accepted; default 16 MiB. */
  maxArtifactBytes?: number;
  /**
   * A moment's pointer older than this is another run's (a restarted camera's media clock
   * starts again at 0): not taken for a site incident's evidence. Default 10 minutes.
   */
  momentMaxAgeMs?: number;
  sleeper?: Sleeper;
  now?: () => number;
}

/** Under a moment's id: which version's evidence shows that moment, and when it came. */
const MOMENT_POINTER = 'edge-version.json';

export const EDGE_EVIDENCE_STORE_GROUP = 'vigil-edge-evidence-store';

/** The only files an edge may send, with the type each must have. */
const ALLOWED = new Map(Object.values(ARTIFACT_FILES).map((f) => [f.name, f.contentType]));

/**
 * Central side of an edge's evidence: stores what edges send on `vigil.evidence.edge` under the
 * incident version's id as it arrives (before its offset is committed, so a restart loses none),
 * and lets the recorder wait, bounded, for a version's files. Stored first, because the evidence
 * may come before or after central fusion decides its version. A resent message writes the same
 * files under the same keys again: one copy. Memory holds only who is waiting.
 */
export class EdgeEvidenceReceiver {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Versions whose files are being written here: a listing now may see only some of them. */
  private readonly writing = new Set<string>();
  private readonly stopped = new AbortController();
  private readonly pollMs: number;
  private readonly maxArtifactBytes: number;
  private readonly momentMaxAgeMs: number;
  private readonly sleeper: Sleeper;
  private readonly now: () => number;
  private subscription?: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly store: Pick<EvidenceStore, 'put' | 'list' | 'get'>,
    private readonly options: EdgeEvidenceReceiverOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.maxArtifactBytes = options.maxArtifactBytes ?? 16 * 1024 * 1024;
    this.momentMaxAgeMs = options.momentMaxAgeMs ?? 10 * 60_000;
    this.sleeper = options.sleeper ?? realSleeper;
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.subscription = await this.bus.subscribe(
      Topics.edgeEvidence,
      this.options.group ?? EDGE_EVIDENCE_STORE_GROUP,
      (message) => this.onEvidence(message),
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.stopped.abort();
    for (const id of [...this.waiters.keys()]) this.notify(id);
  }

  /**
   * Stores one version's evidence; throws (the bus retries, then dead-letters it) on a file an
   * edge has no business sending, so nothing of it is stored.
   */
  async receive(evidence: EdgeEvidence): Promise<void> {
    for (const artifact of evidence.artifacts) {
      const expected = ALLOWED.get(artifact.name);
      if (expected === undefined) {
        throw new Error(
          `edge evidence ${evidence.eventId}: unknown file ${JSON.stringify(artifact.name)}`,
        );
      }
      if (artifact.contentType !== expected) {
        throw new Error(
          `edge evidence ${evidence.eventId}: ${artifact.name} must be ${expected}, not ${JSON.stringify(artifact.contentType)}`,
        );
      }
      if (artifact.data.byteLength === 0 || artifact.data.byteLength > this.maxArtifactBytes) {
        throw new Error(
          `edge evidence ${evidence.eventId}: ${artifact.name} of ${artifact.data.byteLength} bytes (1 to ${this.maxArtifactBytes})`,
        );
      }
    }
    this.writing.add(evidence.eventId);
    try {
      for (const artifact of evidence.artifacts) {
        await this.store.put(evidence.eventId, artifact.name, artifact.data, artifact.contentType);
      }
    } finally {
      this.writing.delete(evidence.eventId);
    }
    // After the files: a pointer found means the version's evidence is all there.
    if (evidence.momentId) {
      const pointer = JSON.stringify({ eventId: evidence.eventId, storedAt: this.now() });
      await this.store.put(
        evidence.momentId,
        MOMENT_POINTER,
        new TextEncoder().encode(pointer),
        'application/json',
      );
      this.notify(evidence.momentId);
    }
    this.notify(evidence.eventId);
  }

  /**
   * The stored files of an edge stream's incident version, once its edge sent them; waits up
   * to `timeoutMs` (or until `signal` aborts or the receiver stops), then answers with none.
   */
  refsFor(event: SecurityEvent, options: CaptureOptions): Promise<EvidenceRef[]> {
    return this.waitFor(event.id, options, async () => {
      if (this.writing.has(event.id)) return undefined;
      const refs = await this.store.list(event.id);
      return refs.length > 0 ? refs.map(named) : undefined;
    });
  }

  /**
   * The evidence of a site or zone incident version over an edge's camera: the files the edge
   * rendered for that camera's own version triggered at the same moment (triggerMomentId), once
   * they are stored; waits like refsFor. The version's own id is no use here: the edge knows
   * nothing of sites, so it never decides (nor renders for) the site's versions.
   */
  refsForMoment(momentId: string, options: CaptureOptions): Promise<EvidenceRef[]> {
    return this.waitFor(momentId, options, async () => {
      const pointer = (await this.store.list(momentId)).find((r) =>
        r.key.endsWith(`/${MOMENT_POINTER}`),
      );
      if (!pointer) return undefined;
      const { eventId, storedAt } = JSON.parse(
        new TextDecoder().decode((await this.store.get(pointer)).bytes),
      ) as { eventId: string; storedAt: number };
      if (this.now() - storedAt > this.momentMaxAgeMs) return undefined;
      const refs = await this.store.list(eventId);
      return refs.length > 0 ? refs.map(named) : undefined;
    });
  }

  /** Looks until `look` finds something, on each arrival under `id` and each poll; [] at the end. */
  private async waitFor(
    id: string,
    options: CaptureOptions,
    look: () => Promise<EvidenceRef[] | undefined>,
  ): Promise<EvidenceRef[]> {
    const expired = new AbortController();
    const timer = new AbortController();
    const expire = () => expired.abort();
    options.signal?.addEventListener('abort', expire, { once: true });
    this.stopped.signal.addEventListener('abort', expire, { once: true });
    if (options.signal?.aborted || this.stopped.signal.aborted) expire();
    void this.sleeper.sleep(options.timeoutMs, timer.signal).then(expire);
    try {
      for (;;) {
        const refs = await look();
        if (refs) return refs;
        if (expired.signal.aborted) return [];
        await this.nextLook(id, expired.signal);
      }
    } finally {
      timer.abort();
      options.signal?.removeEventListener('abort', expire);
      this.stopped.signal.removeEventListener('abort', expire);
    }
  }

  /** Until the version's evidence is stored here, the next poll, or `signal` aborts. */
  private nextLook(eventId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const poll = new AbortController();
      const done = () => {
        poll.abort();
        signal.removeEventListener('abort', done);
        const set = this.waiters.get(eventId);
        set?.delete(done);
        if (set?.size === 0) this.waiters.delete(eventId);
        resolve();
      };
      const set = this.waiters.get(eventId) ?? new Set();
      set.add(done);
      this.waiters.set(eventId, set);
      signal.addEventListener('abort', done, { once: true });
      void this.sleeper.sleep(this.pollMs, poll.signal).then(() => {
        if (!poll.signal.aborted) done();
      });
    });
  }

  private notify(eventId: string): void {
    const set = this.waiters.get(eventId);
    if (set) for (const wake of [...set]) wake();
  }

  private async onEvidence({ value }: BusMessage<EdgeEvidence>): Promise<void> {
    await this.receive(value);
  }
}

function named(ref: {
  key: string;
  contentType: string;
  bytes: number;
  sha256: string;
}): EvidenceRef {
  return { name: ref.key.slice(ref.key.indexOf('/') + 1), ...ref };
}
