import { SiteDirectory, type Severity } from '@app/contracts';
import type { EvidenceStore } from '@app/evidence';
import {
  type EventRepository,
  type IncidentAction,
  type IncidentActionKind,
  type IncidentActionRepository,
  type IncidentDisposition,
  MAX_PAGE_SIZE,
  type StoredEvent,
  type StreamSuppression,
  type StreamSuppressionRepository,
  dispositionOf,
} from '@app/history';
import { ApiError, ApiErrorCode } from './api.error';
import type { ApiPrincipal } from './api-token.registry';
import type { StreamControl, StreamInfo, StreamSpec } from './api.ports';
import type { Change, IncidentDetail, IncidentSummary, SiteInfo } from './console.wire';

export type { IncidentDetail, IncidentSummary } from './console.wire';

/** Where suppressions are kept, and the gate fusion reads them from. */
export interface ConsoleSuppressions {
  repository: StreamSuppressionRepository;
  gate: { replace(list: readonly StreamSuppression[]): void };
}

/** `open`/`closed` is the incident's own life; the others are the operators' disposition. */
export const INCIDENT_STATE_FILTERS = [
  'open',
  'closed',
  'new',
  'acknowledged',
  'resolved',
  'false_alarm',
] as const;
export type IncidentStateFilter = (typeof INCIDENT_STATE_FILTERS)[number];

export interface IncidentQuery {
  streamId?: string;
  /** The site's incidents and its cameras' own (both carry the site). */
  site?: string;
  minSeverity?: Severity;
  state?: IncidentStateFilter;
  from?: number;
  to?: number;
}

/** A stream as the console lists it: where it stands among the configured sites, if anywhere. */
export interface ConsoleStream extends StreamInfo {
  site?: string;
  zone?: string;
}

/** What a live console hears, in the order it happened (console.wire's Change). */
export type ConsoleChange = Change;

export interface ConsoleFeed {
  onStored(listener: (stored: StoredEvent) => void): () => void;
}

/** Catch-up after a reconnect reads this many events at most; more means "reload the list". */
const MAX_CATCH_UP = 1000;

/**
 * What the web console does, over the same history, evidence store and stream control as the
 * gRPC API: incidents grouped from their versions, the operators' audit trail, and one ordered
 * feed of changes (new versions from fusion, actions from any console).
 */
export class ConsoleService {
  private readonly listeners = new Set<(change: ConsoleChange) => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private emitting: Promise<void> = Promise.resolve();

  constructor(
    private readonly events: EventRepository,
    private readonly actions: IncidentActionRepository,
    private readonly evidenceStore: Pick<EvidenceStore, 'get'>,
    feed: ConsoleFeed,
    /** Absent where streams are run elsewhere (the fusion service). */
    private readonly streamControl?: StreamControl,
    private readonly suppressions?: ConsoleSuppressions,
    /** The configured sites (config `sites`): the console's site filter and stream rows. */
    private readonly sites: SiteDirectory = new SiteDirectory(),
  ) {
    this.unsubscribe.push(
      feed.onStored((stored) =>
        this.emitInOrder(async () => ({
          type: 'incident',
          eventSeq: stored.seq,
          incident: await this.summary(stored),
        })),
      ),
    );
    if (streamControl) {
      this.unsubscribe.push(
        streamControl.onChange((stream) =>
          this.emit({ type: 'stream', stream: this.placed(stream) }),
        ),
      );
    }
  }

  /**
   * Incidents newest first, from the newest versions matching the filter (at most 500 of
   * them, so the answer is bounded; the time range reaches further back).
   */
  async listIncidents(
    query: IncidentQuery,
  ): Promise<{ incidents: IncidentSummary[]; cursor: string }> {
    const cursor = await this.cursor();
    const page = await this.events.list({
      ...(query.streamId ? { streamIds: [query.streamId] } : {}),
      ...(query.site ? { sites: [query.site] } : {}),
      ...(query.minSeverity ? { minSeverity: query.minSeverity } : {}),
      ...(query.from !== undefined ? { from: query.from } : {}),
      ...(query.to !== undefined ? { to: query.to } : {}),
      pageSize: MAX_PAGE_SIZE,
      order: 'newest-first',
    });
    const newest = new Map<string, StoredEvent>();
    for (const stored of page.events) {
      if (!newest.has(stored.event.incidentId)) newest.set(stored.event.incidentId, stored);
    }
    // One query for every incident's disposition, not one per incident.
    const dispositions = await this.actions.dispositions([...newest.keys()]);
    const incidents = [...newest.values()]
      .map((stored) => summaryOf(stored, dispositions.get(stored.event.incidentId) ?? 'new'))
      .filter((summary) => matchesState(summary, query.state));
    return { incidents, cursor };
  }

  async getIncident(incidentId: string): Promise<IncidentDetail> {
    const versions = await this.events.incident(incidentId);
    const newest = versions[versions.length - 1];
    if (!newest) throw ApiError.notFound(`incident ${incidentId}`);
    const byName = new Map<string, IncidentDetail['evidence'][number]>();
    for (const stored of versions) {
      for (const ref of stored.evidenceRefs) {
        byName.set(ref.name, {
          name: ref.name,
          contentType: ref.contentType,
          bytes: ref.bytes,
          url: `/api/incidents/${encodeURIComponent(incidentId)}/evidence/${encodeURIComponent(ref.name)}`,
        });
      }
    }
    const actions = await this.actions.forIncident(incidentId);
    return {
      incident: summaryOf(newest, dispositionOf(actions)),
      versions: versions.map(({ event, occurredAt }) => ({
        eventId: event.id,
        version: event.version,
        state: event.state,
        severity: event.severity,
        rule: event.rule,
        title: event.title,
        trigger: event.trigger,
        triggers: event.triggers,
        startSec: event.startSec,
        endSec: event.endSec,
        occurredAt,
        detections: event.evidence,
      })),
      actions,
      evidence: [...byName.values()],
      suppressions: (await this.activeSuppressions()).filter(
        (x) => x.streamId === newest.event.streamId,
      ),
    };
  }

  /** The newest version's file of that name (a later version's replaces an earlier one's). */
  async evidence(
    incidentId: string,
    name: string,
  ): Promise<{ bytes: Uint8Array; contentType: string }> {
    const versions = await this.events.incident(incidentId);
    if (versions.length === 0) throw ApiError.notFound(`incident ${incidentId}`);
    for (const stored of [...versions].reverse()) {
      const ref = stored.evidenceRefs.find((r) => r.name === name);
      if (ref) return this.evidenceStore.get(ref.key);
    }
    throw ApiError.notFound(`evidence "${name}" of incident ${incidentId}`);
  }

  /**
   * Records an operator's action. A false alarm may also suppress the incident's trigger
   * classes on its stream for `suppressMinutes`, where this process runs fusion's gate.
   */
  async act(
    incidentId: string,
    action: IncidentActionKind,
    note: string,
    principal: ApiPrincipal,
    suppressMinutes?: number,
  ): Promise<{
    action: IncidentAction;
    incident: IncidentSummary;
    suppressions: StreamSuppression[];
  }> {
    if (suppressMinutes !== undefined) {
      if (action !== 'false_alarm') {
        throw ApiError.invalid('suppressMinutes', 'goes with a false_alarm only');
      }
      if (!this.suppressions) {
        throw new ApiError(ApiErrorCode.FAILED_PRECONDITION, 'suppressMinutes: not available here');
      }
    }
    const recorded = await this.actions.record({
      incidentId,
      action,
      note,
      actor: principal.name,
      role: principal.role,
    });
    const { incident } = await this.getIncident(incidentId);
    await this.emitInOrder(async () => ({
      type: 'action',
      actionSeq: recorded.seq,
      action: recorded,
      incident,
    }));
    let suppressions: StreamSuppression[] = [];
    if (suppressMinutes !== undefined && this.suppressions) {
      suppressions = await this.suppressions.repository.create({
        streamId: incident.streamId,
        classes: incident.triggers,
        forMs: suppressMinutes * 60_000,
        incidentId,
        actor: principal.name,
      });
      await this.suppressionsChanged();
    }
    return { action: recorded, incident, suppressions };
  }

  async activeSuppressions(): Promise<StreamSuppression[]> {
    return (await this.suppressions?.repository.active()) ?? [];
  }

  /** Undo a suppression before it expires. */
  async liftSuppression(id: number, principal: ApiPrincipal): Promise<StreamSuppression> {
    if (!this.suppressions) throw ApiError.notFound(`suppression ${id}`);
    const lifted = await this.suppressions.repository.lift(id, principal.name);
    await this.suppressionsChanged();
    return lifted;
  }

  private async suppressionsChanged(): Promise<void> {
    const active = await this.activeSuppressions();
    this.suppressions?.gate.replace(active);
    await this.emitInOrder(async () => ({ type: 'suppression', suppressions: active }));
  }

  /** `<event seq>-<action seq>`: where a live console is, so a reconnect misses nothing. */
  async cursor(): Promise<string> {
    const [events, actions] = await Promise.all([
      this.events.latestSeq(),
      this.actions.latestSeq(),
    ]);
    return `${events}-${actions}`;
  }

  /**
   * What happened after `cursor`, events first then actions (each in its own order); undefined
   * when it is too much to replay, and the console should reload its list instead.
   */
  async changesAfter(cursor: {
    eventSeq: number;
    actionSeq: number;
  }): Promise<ConsoleChange[] | undefined> {
    const changes: ConsoleChange[] = [];
    let eventSeq = cursor.eventSeq;
    for (;;) {
      const batch = await this.events.after(eventSeq, {}, 100);
      for (const stored of batch) {
        changes.push({
          type: 'incident',
          eventSeq: stored.seq,
          incident: await this.summary(stored),
        });
        eventSeq = stored.seq;
      }
      if (changes.length > MAX_CATCH_UP) return undefined;
      if (batch.length < 100) break;
    }
    const actions = await this.actions.after(cursor.actionSeq, MAX_CATCH_UP + 1);
    if (actions.length > MAX_CATCH_UP) return undefined;
    for (const action of actions) {
      const versions = await this.events.incident(action.incidentId);
      const newest = versions[versions.length - 1];
      if (newest) {
        changes.push({
          type: 'action',
          actionSeq: action.seq,
          action,
          incident: await this.summary(newest),
        });
      }
    }
    return changes;
  }

  onChange(listener: (change: ConsoleChange) => void): () => void {
    const registered = (change: ConsoleChange) => listener(change);
    this.listeners.add(registered);
    return () => void this.listeners.delete(registered);
  }

  /** Stops hearing the history and the streams (the server closes). */
  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.listeners.clear();
  }

  get canControlStreams(): boolean {
    return this.streamControl !== undefined;
  }

  listStreams(): ConsoleStream[] {
    return (this.streamControl?.list() ?? [])
      .map((stream) => this.placed(stream))
      .sort((a, b) => b.startedAt - a.startedAt || a.streamId.localeCompare(b.streamId));
  }

  /** The configured sites, their zones and cameras, as the config file declares them. */
  listSites(): readonly SiteInfo[] {
    return this.sites.sites;
  }

  private placed(stream: StreamInfo): ConsoleStream {
    const placement = this.sites.placementOf(stream.streamId);
    return placement ? { ...stream, ...placement } : stream;
  }

  streamCapabilities() {
    return this.requireStreams().capabilities();
  }

  startStream(spec: StreamSpec): Promise<StreamInfo> {
    return this.requireStreams().start(spec);
  }

  stopStream(streamId: string): Promise<StreamInfo> {
    return this.requireStreams().stop(streamId);
  }

  private requireStreams(): StreamControl {
    if (!this.streamControl) {
      throw ApiError.notFound('stream control (streams are run by the ingest service here)');
    }
    return this.streamControl;
  }

  private async summary(stored: StoredEvent): Promise<IncidentSummary> {
    return summaryOf(
      stored,
      dispositionOf(await this.actions.forIncident(stored.event.incidentId)),
    );
  }

  /**
   * Changes go out in the order they happened, though building one reads the history: each
   * waits for the one before it. A change that cannot be built is dropped (a console that
   * misses one catches up from its cursor on the next reconnect).
   */
  private emitInOrder(build: () => Promise<ConsoleChange>): Promise<void> {
    const built = build();
    this.emitting = this.emitting.then(async () => {
      try {
        this.emit(await built);
      } catch {
        // the history could not be read; see above
      }
    });
    return this.emitting;
  }

  private emit(change: ConsoleChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}

function summaryOf(stored: StoredEvent, disposition: IncidentDisposition): IncidentSummary {
  const { event } = stored;
  return {
    incidentId: event.incidentId,
    eventId: event.id,
    streamId: event.streamId,
    streamLabels: stored.streamLabels ?? {},
    title: event.title,
    rule: event.rule,
    severity: event.severity,
    state: event.state,
    version: event.version,
    trigger: event.trigger,
    triggers: event.triggers,
    startSec: event.startSec,
    endSec: event.endSec,
    updatedAt: stored.occurredAt,
    disposition,
    evidence: stored.evidenceRefs.map((r) => r.name),
    ...(event.site ? { site: event.site } : {}),
    ...(event.zone ? { zone: event.zone } : {}),
    ...(event.cameras ? { cameras: event.cameras } : {}),
    ...(event.absorbedBy ? { absorbedBy: event.absorbedBy } : {}),
  };
}

function matchesState(summary: IncidentSummary, state: IncidentStateFilter | undefined): boolean {
  switch (state) {
    case undefined:
      return true;
    case 'open':
      return summary.state !== 'closed';
    case 'closed':
      return summary.state === 'closed';
    default:
      return summary.disposition === state;
  }
}
