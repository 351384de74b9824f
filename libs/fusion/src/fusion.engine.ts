import type {
  CanonicalClass,
  Detection,
  DetectionSet,
  EventEvidence,
  Modality,
  SecurityEvent,
} from '@app/contracts';
import { isVideoClass } from '@app/contracts';
import { IncidentTracker, type OpenIncident, evidenceFrom, walkIncident } from './incident.tracker';
import type { Condition, Rule, RuleSet } from './rules.schema';

export interface FusionEngineOptions {
  /**
   * Triggers a stream may hold while waiting for the other modality. Past this, the oldest is
   * decided with what is known: only a modality that stopped arriving altogether gets there.
   */
  maxPending?: number;
  /** Sightings older than this behind the newest coverage are forgotten (unless a trigger still needs them). */
  historySec?: number;
}

interface Sighting {
  atSec: number;
  endSec: number;
  detection: Detection;
}

interface Trigger {
  cls: CanonicalClass;
  atSec: number;
  endSec: number;
  evidence: EventEvidence;
}

interface StreamState {
  /**
   * The last set's start per modality. Stream time only moves on (reconnects and loop passes
   * continue it), so a set starting at or before it was already taken in: a replay.
   */
  lastStartSec: Record<Modality, number | null>;
  covered: Record<Modality, number>;
  /**
   * The latest set's moment per modality. Sets arrive in time order but overlap, so only this
   * (not `covered`, their end) says that every detection at or before it is in.
   */
  reached: Record<Modality, number>;
  ended: Record<Modality, boolean>;
  seen: Record<Modality, boolean>;
  sightings: Map<CanonicalClass, Sighting[]>;
  /** End of the current episode per class: detections closer than episodeGapSec extend it. */
  episodeEnd: Map<CanonicalClass, number>;
  /** Triggers not decided yet, in time order. */
  pending: Trigger[];
  incident: IncidentTracker;
  /** Media time up to which the open incident has seen its classes' activity. */
  walkedToSec: number;
}

type Verdict = 'holds' | 'fails' | 'undecided';

/** StreamState as JSON carries it (Maps as entry lists, no infinities). */
export interface EngineSnapshot {
  lastStartSec: Record<Modality, number | null>;
  covered: Record<Modality, number>;
  reached: Record<Modality, number | null>;
  ended: Record<Modality, boolean>;
  seen: Record<Modality, boolean>;
  sightings: [CanonicalClass, Sighting[]][];
  episodeEnd: [CanonicalClass, number][];
  pending: Trigger[];
  incident: OpenIncident | null;
  /** null: Infinity (every trigger modality ended). */
  walkedToSec: number | null;
}

/**
 * The rules engine. Pure and clock-free: events depend only on the detections fed in, in
 * order per modality, so the same input always yields the same events with the same ids.
 *
 * Each detected class forms episodes (detections closer than `episodeGapSec`); an episode's
 * first detection is a trigger. For a trigger, rules are tried in file order and the first
 * whose conditions hold fires. A condition on another modality may have to wait until that
 * modality's coverage reaches trigger + withinSec: that is the deliberate fusion wait.
 *
 * Firings feed the stream's incident (IncidentTracker): opened, updated, escalated, closed.
 * Triggers are decided strictly in media-time order, and an incident closes only once no
 * earlier trigger is undecided, so its versions come out the same however the two modalities'
 * detections interleave (one process, or several services on Kafka). The price: a trigger waits
 * behind an earlier one that waits for the camera, at most that rule's `withinSec`.
 */
export class FusionEngine {
  private readonly streams = new Map<string, StreamState>();
  private readonly triggerClasses: Set<CanonicalClass>;
  /** Modalities triggers come from: time order needs each of them to have got there. */
  private readonly triggerModalities: Modality[];
  private readonly widestSec: number;
  private readonly maxPending: number;
  private readonly historySec: number;

  private readonly ruleSet: RuleSet;

  constructor(ruleSet: RuleSet, options: FusionEngineOptions = {}) {
    // Site and zone rules span cameras: the SiteEngine decides them.
    this.ruleSet = { ...ruleSet, rules: ruleSet.rules.filter((rule) => rule.scope === 'stream') };
    ruleSet = this.ruleSet;
    this.triggerClasses = new Set(ruleSet.rules.flatMap((rule) => rule.when));
    this.triggerModalities = [...new Set([...this.triggerClasses].map(modalityOf))];
    this.widestSec = Math.max(
      0,
      ...ruleSet.rules.map((r) => (r.with ?? r.without)?.withinSec ?? 0),
    );
    this.maxPending = options.maxPending ?? 256;
    this.historySec =
      options.historySec ??
      Math.max(60, 4 * this.widestSec, ...ruleSet.rules.map((r) => r.quietSec));
  }

  /**
   * Feeds one detection set; returns the incident versions decided because of it. A set the
   * stream already took in (starting no later than the last: a replay after a restart)
   * changes nothing.
   */
  ingest(set: DetectionSet): SecurityEvent[] {
    const state = this.stateOf(set.streamId);
    const modality = set.modality;
    if (!set.final) {
      const last = state.lastStartSec[modality];
      if (last !== null && set.startSec <= last) return [];
      state.lastStartSec[modality] = set.startSec;
    } else if (state.ended[modality]) return [];
    if (set.final) {
      state.ended[modality] = true;
    } else {
      state.seen[modality] = true;
      state.covered[modality] = Math.max(state.covered[modality], set.endSec);
      state.reached[modality] = Math.max(state.reached[modality], set.atSec);
      for (const detection of set.detections) this.record(state, set, detection);
    }
    const events = this.decide(state);
    if (state.ended.audio && state.ended.video) this.streams.delete(set.streamId);
    this.prune(state);
    return events;
  }

  /** True while the engine holds state for the stream (it forgets a stream once both modalities ended). */
  isOpen(streamId: string): boolean {
    return this.streams.has(streamId);
  }

  /**
   * A stream's whole state as JSON-safe data, for a checkpoint: restored into a fresh engine,
   * the same later sets give the same versions and ids as if nothing had happened.
   */
  snapshot(streamId: string): EngineSnapshot | undefined {
    const state = this.streams.get(streamId);
    if (!state) return undefined;
    return JSON.parse(
      JSON.stringify({
        ...state,
        sightings: [...state.sightings],
        episodeEnd: [...state.episodeEnd],
        incident: state.incident.snapshot() ?? null,
      }),
      // JSON has no infinities; `reached` starts at -Infinity.
    ) as EngineSnapshot;
  }

  /** Takes a stream up where a snapshot left it (replacing what the engine had of it). */
  restore(streamId: string, snapshot: EngineSnapshot): void {
    const incident = new IncidentTracker(streamId);
    incident.restore(snapshot.incident ?? undefined);
    const finite = (v: number | null) => v ?? -Infinity;
    this.streams.set(streamId, {
      lastStartSec: snapshot.lastStartSec,
      covered: snapshot.covered,
      reached: { audio: finite(snapshot.reached.audio), video: finite(snapshot.reached.video) },
      ended: snapshot.ended,
      seen: snapshot.seen,
      sightings: new Map(snapshot.sightings),
      episodeEnd: new Map(snapshot.episodeEnd),
      pending: snapshot.pending,
      incident,
      walkedToSec: snapshot.walkedToSec ?? Infinity,
    });
  }

  private record(state: StreamState, set: DetectionSet, detection: Detection): void {
    const sighting = { atSec: set.atSec, endSec: set.endSec, detection };
    const list = state.sightings.get(detection.cls) ?? [];
    list.push(sighting);
    state.sightings.set(detection.cls, list);

    if (!this.triggerClasses.has(detection.cls)) return;
    const episodeEnd = state.episodeEnd.get(detection.cls);
    state.episodeEnd.set(detection.cls, set.endSec);
    if (episodeEnd !== undefined && set.startSec <= episodeEnd + this.ruleSet.episodeGapSec) return;
    state.pending.push({
      cls: detection.cls,
      atSec: set.atSec,
      endSec: set.endSec,
      evidence: evidenceOf(sighting),
    });
  }

  /**
   * Decides pending triggers in time order, stopping at the first that must still wait, then
   * lets the incident see the activity up to what is certain: nothing undecided before it, and
   * every trigger modality covered.
   */
  private decide(state: StreamState): SecurityEvent[] {
    const events: SecurityEvent[] = [];
    state.pending.sort((a, b) => a.atSec - b.atSec);
    const overflow = state.pending.length - this.maxPending;
    let decided = 0;
    for (const [index, trigger] of state.pending.entries()) {
      const forced = index < overflow;
      if (!forced && this.frontier(state) < trigger.atSec) break;
      const outcome = this.firstMatch(state, trigger, forced);
      if (outcome === 'undecided') break;
      decided++;
      events.push(...walkIncident(state, trigger.atSec));
      if (!outcome) continue;
      const { rule, confirmation } = outcome;
      events.push(
        ...state.incident.fire({
          rule,
          ruleIndex: this.ruleSet.rules.indexOf(rule),
          cls: trigger.cls,
          atSec: trigger.atSec,
          endSec: trigger.endSec,
          evidence: confirmation ? [trigger.evidence, confirmation] : [trigger.evidence],
        }),
      );
    }
    state.pending.splice(0, decided);
    const certain = Math.min(this.frontier(state), state.pending[0]?.atSec ?? Infinity);
    events.push(...walkIncident(state, certain));
    return events;
  }

  /** Media time up to which every trigger modality's detections are in (Infinity once they all ended). */
  private frontier(state: StreamState): number {
    return Math.min(
      ...this.triggerModalities.map((m) => (state.ended[m] ? Infinity : state.reached[m])),
    );
  }

  private firstMatch(
    state: StreamState,
    trigger: Trigger,
    forced: boolean,
  ): { rule: Rule; confirmation?: EventEvidence } | 'undecided' | undefined {
    for (const rule of this.ruleSet.rules) {
      if (!rule.when.includes(trigger.cls)) continue;
      if (rule.with) {
        const { verdict, best } = this.check(state, trigger, rule.with, 'with', forced);
        if (verdict === 'undecided') return 'undecided';
        if (verdict === 'holds') return { rule, confirmation: best && evidenceOf(best) };
        continue;
      }
      if (rule.without) {
        const { verdict } = this.check(state, trigger, rule.without, 'without', forced);
        if (verdict === 'undecided') return 'undecided';
        if (verdict === 'holds') return { rule };
        continue;
      }
      return { rule };
    }
    return undefined;
  }

  private check(
    state: StreamState,
    trigger: Trigger,
    condition: Condition,
    kind: 'with' | 'without',
    forced: boolean,
  ): { verdict: Verdict; best?: Sighting } {
    const modality: Modality = isVideoClass(condition.class) ? 'video' : 'audio';
    const from = trigger.atSec - condition.withinSec;
    const to = trigger.atSec + condition.withinSec;
    const near = (state.sightings.get(condition.class) ?? []).filter(
      (s) => s.atSec >= from && s.atSec <= to,
    );
    const seen = near.length >= condition.minCount;
    const best = near.reduce<Sighting | undefined>(
      (a, b) => (a && a.detection.score >= b.detection.score ? a : b),
      undefined,
    );
    if (seen) return { verdict: kind === 'with' ? 'holds' : 'fails', best };

    // Wait for the other modality's own data (or its end), never for a clock or for how far the
    // other modality got: those differ between deployments, and the events must not.
    const complete = state.ended[modality] || state.covered[modality] >= to;
    if (!complete && !forced) return { verdict: 'undecided' };
    if (kind === 'with') return { verdict: 'fails' };
    // "Nobody in view" needs the camera to have watched the whole span, not merely no camera.
    return { verdict: state.seen[modality] && complete ? 'holds' : 'fails' };
  }

  private prune(state: StreamState): void {
    const oldestNeeded =
      state.pending.length > 0 ? state.pending[0].atSec - this.widestSec : Infinity;
    const horizon = Math.min(
      Math.max(state.covered.audio, state.covered.video) - this.historySec,
      oldestNeeded,
      // The open incident has yet to see its activity after this.
      state.walkedToSec,
    );
    for (const [cls, list] of state.sightings) {
      const kept = list.filter((s) => s.atSec >= horizon);
      if (kept.length === 0) state.sightings.delete(cls);
      else if (kept.length !== list.length) state.sightings.set(cls, kept);
    }
  }

  private stateOf(streamId: string): StreamState {
    let state = this.streams.get(streamId);
    if (!state) {
      state = {
        lastStartSec: { audio: null, video: null },
        covered: { audio: 0, video: 0 },
        reached: { audio: -Infinity, video: -Infinity },
        ended: { audio: false, video: false },
        seen: { audio: false, video: false },
        sightings: new Map(),
        episodeEnd: new Map(),
        pending: [],
        incident: new IncidentTracker(streamId),
        walkedToSec: 0,
      };
      this.streams.set(streamId, state);
    }
    return state;
  }
}

function evidenceOf(sighting: Sighting): EventEvidence {
  return evidenceFrom(sighting.detection, sighting.atSec);
}

function modalityOf(cls: CanonicalClass): Modality {
  return isVideoClass(cls) ? 'video' : 'audio';
}
