import type {
  CanonicalClass,
  Detection,
  DetectionSet,
  EventEvidence,
  Modality,
  SecurityEvent,
  SitePlacement,
} from '@app/contracts';
import { isVideoClass, siteKey } from '@app/contracts';
import {
  IncidentTracker,
  type OpenIncident,
  type SiteFiring,
  evidenceFrom,
  round,
  walkIncident,
} from './incident.tracker';
import type { Rule, RuleSet } from './rules.schema';

export interface SiteEngineOptions {
  /** Site triggers that may wait for slower cameras; past this the oldest is decided with what is known. */
  maxPending?: number;
  /** Cameras' incidents held for the site's decision at most; past this the oldest goes out as it is. */
  maxHeld?: number;
  /** Sightings older than this behind the newest coverage are forgotten (unless still needed). */
  historySec?: number;
  /**
   * Every camera a site is configured with. Until each has sent its first set (or is said to
   * be away: `away`), the site decides nothing: a camera whose first detections come late must
   * still count, however the cameras' sets interleave. Only the cameras heard from when unset.
   */
  camerasOf?: (site: string) => readonly string[];
}

interface CameraState {
  zone?: string;
  /** Site time of this camera's media time 0 (its capture clock on live runs, else 0). */
  originSec: number;
  lastStartSec: Record<Modality, number | null>;
  /** Site time of the latest set's start per modality: every detection at or before it is in. */
  reached: Record<Modality, number | null>;
  ended: Record<Modality, boolean>;
}

interface SiteSighting {
  camera: string;
  /** Site time. */
  startSec: number;
  atSec: number;
  endSec: number;
  /** The camera's own media time of atSec: what its evidence says. */
  mediaSec: number;
  detection: Detection;
}

interface SiteTrigger {
  cls: CanonicalClass;
  camera: string;
  atSec: number;
  endSec: number;
  /**
   * The cameras a minCameras rule heard it on ([] when none holds); absent until every
   * camera it waits for got there. A camera's incident of this episode on one of them is
   * the site incident's.
   */
  heard?: string[];
  /** Once decided: the site incident it opened or fed, if any. */
  incidentId?: string;
}

/** A camera's incident waiting to learn whether a site incident took it in. */
interface Held {
  incidentId: string;
  camera: string;
  cls: CanonicalClass;
  /** Site time of its trigger; absent for versions that are none of the site's business. */
  atSec?: number;
  events: SecurityEvent[];
}

/** One site's state, JSON-safe as it is (a checkpoint carries it). */
export interface SiteSnapshot {
  cameras: Record<string, CameraState>;
  sightings: [CanonicalClass, SiteSighting[]][];
  episodeEnd: [CanonicalClass, number][];
  /** Trigger-class sightings up to this site time were cut into episodes (±Infinity as text). */
  segmentedToSec: number | string;
  pending: SiteTrigger[];
  /** The latest decided triggers, for the cameras' incidents still held. */
  recent: SiteTrigger[];
  incident: OpenIncident | null;
  walkedToSec: number | string;
  held: Held[];
  /** Cameras' incidents already decided: absorbed (with the site incident's id) or not (''). */
  settled: [string, string][];
  /** Configured cameras not waited for (not running): see SiteEngine.away. */
  away: string[];
}

interface SiteState {
  site: string;
  cameras: Map<string, CameraState>;
  sightings: Map<CanonicalClass, SiteSighting[]>;
  episodeEnd: Map<CanonicalClass, number>;
  segmentedToSec: number;
  pending: SiteTrigger[];
  recent: SiteTrigger[];
  incident: IncidentTracker;
  walkedToSec: number;
  held: Held[];
  settled: Map<string, string>;
  away: Set<string>;
}

type Outcome = { rule: Rule; site: SiteFiring; evidence: EventEvidence[] } | 'undecided';

/** Decided triggers and settled camera incidents kept per site: enough for any still held. */
const MAX_RECENT = 64;
const MAX_SETTLED = 1024;
/** Event times are rounded to 10 ms: a camera incident's trigger may read up to 5 ms early. */
const ROUNDING_SEC = 0.01;

/**
 * Site and zone rules, across the cameras of a site: "the same impulsive sound heard by two
 * cameras within 1 s" and "glass break on camera A, a person on camera B of the same zone".
 * Like FusionEngine it is pure and clock-free, and decides strictly in time order on data it
 * has, so the same detections give the same site incidents with the same ids whichever way
 * the cameras' sets interleave (one process, or Kafka, where the site's key keeps all its
 * cameras on one partition). Time is site time: a camera's media time plus its origin (0 for
 * files, its capture clock on live runs), so cameras started apart still line up.
 *
 * A site trigger is the first detection of a site-wide episode of a class (detections of any
 * camera closer than `episodeGapSec`). It waits until every camera of the rule's scope that
 * the site has heard from covered trigger + withinSec (or ended), then the first scoped rule
 * that holds opens or feeds the site's incident, naming the cameras earliest first.
 *
 * A camera's own incidents of the classes site rules listen for are held here until the site
 * knows whether a minCameras rule heard that moment on that camera: if so, the camera's
 * incident goes out marked `absorbedBy` the site incident (recorded, notifying nobody: the
 * site incident does); if not, it goes out unchanged. So one sound heard by three cameras
 * alerts once. The price: such a camera incident waits for the site's other cameras, at most
 * the minCameras rules' withinSec. A zone `with` rule's incident is a finding of its own
 * (glass break here, a person there) and takes in nothing it was not also heard for.
 */
export class SiteEngine {
  private readonly sites = new Map<string, SiteState>();
  private readonly rules: Rule[];
  private readonly ruleIndex = new Map<Rule, number>();
  private readonly triggerClasses: Set<CanonicalClass>;
  private readonly triggerModalities: Modality[];
  private readonly widestSec: number;
  private readonly maxPending: number;
  private readonly maxHeld: number;
  private readonly historySec: number;

  constructor(
    private readonly ruleSet: RuleSet,
    private readonly options: SiteEngineOptions = {},
  ) {
    this.rules = ruleSet.rules.filter((rule) => rule.scope !== 'stream');
    ruleSet.rules.forEach((rule, index) => this.ruleIndex.set(rule, index));
    this.triggerClasses = new Set(this.rules.flatMap((rule) => rule.when));
    this.triggerModalities = [...new Set([...this.triggerClasses].map(modalityOf))];
    this.widestSec = Math.max(0, ...this.rules.map((r) => r.with?.withinSec ?? r.withinSec ?? 0));
    this.maxPending = options.maxPending ?? 256;
    this.maxHeld = options.maxHeld ?? 256;
    this.historySec =
      options.historySec ?? Math.max(60, 4 * this.widestSec, ...this.rules.map((r) => r.quietSec));
  }

  /** Whether the rules have any site or zone rule (none: sites change nothing). */
  hasRules(): boolean {
    return this.rules.length > 0;
  }

  /**
   * Feeds one camera's detection set, with the versions its own engine decided for that set;
   * returns what goes out: site incident versions, and the cameras' versions now decided
   * (taken in by a site incident or not). A set the camera already gave (a replay) adds
   * nothing, but its camera versions still pass through the hold.
   */
  ingest(
    placement: SitePlacement,
    set: DetectionSet,
    cameraEvents: readonly SecurityEvent[],
    originSec = 0,
  ): SecurityEvent[] {
    const state = this.stateOf(placement.site);
    const camera = this.cameraOf(state, set.streamId, placement, originSec);
    const origin = camera.originSec;
    const modality = set.modality;
    let fresh = true;
    if (!set.final) {
      const last = camera.lastStartSec[modality];
      if (last !== null && set.startSec <= last) fresh = false;
      else camera.lastStartSec[modality] = set.startSec;
    } else if (camera.ended[modality]) fresh = false;
    if (fresh) {
      if (set.final) camera.ended[modality] = true;
      else {
        // A set's start, not its moment: audio windows overlap and a window's peak may come
        // before the previous one's, but every later set starts (and peaks) after this start.
        camera.reached[modality] = Math.max(
          camera.reached[modality] ?? -Infinity,
          origin + set.startSec,
        );
        for (const detection of set.detections) {
          const list = state.sightings.get(detection.cls) ?? [];
          list.push({
            camera: set.streamId,
            startSec: origin + set.startSec,
            atSec: origin + set.atSec,
            endSec: origin + set.endSec,
            mediaSec: set.atSec,
            detection,
          });
          state.sightings.set(detection.cls, list);
        }
      }
    }
    this.hold(state, set.streamId, cameraEvents);
    return this.settle(placement.site, state);
  }

  /**
   * Configured cameras of a site that sent nothing yet, not said to be away: the site waits
   * for them. The caller says a camera is away once it waited long enough (a clock's call,
   * so not a pure one: only a camera that is really down makes it matter).
   */
  missing(site: string): string[] {
    const state = this.sites.get(site);
    if (!state) return [];
    return this.expected(site).filter((c) => !state.cameras.has(c) && !state.away.has(c));
  }

  /** Stops waiting for a camera that sent nothing; it counts again once it does. */
  away(site: string, camera: string): SecurityEvent[] {
    const state = this.sites.get(site);
    if (!state || state.cameras.has(camera)) return [];
    state.away.add(camera);
    return this.settle(site, state);
  }

  /** The sites the engine holds state of. */
  openSites(): string[] {
    return [...this.sites.keys()];
  }

  private settle(site: string, state: SiteState): SecurityEvent[] {
    const out = this.decide(state);
    out.push(...this.release(state));
    this.prune(state);
    const allEnded = [...state.cameras.values()].every((c) => c.ended.audio && c.ended.video);
    if (allEnded && state.held.length === 0 && !state.incident.snapshot()) {
      this.sites.delete(site);
    }
    return out;
  }

  private expected(site: string): readonly string[] {
    return this.options.camerasOf?.(site) ?? [];
  }

  /** True while the engine holds state for the site (until all its cameras ended). */
  isOpen(site: string): boolean {
    return this.sites.has(site);
  }

  snapshot(site: string): SiteSnapshot | undefined {
    const state = this.sites.get(site);
    if (!state) return undefined;
    return JSON.parse(
      JSON.stringify({
        cameras: Object.fromEntries(state.cameras),
        sightings: [...state.sightings],
        episodeEnd: [...state.episodeEnd],
        segmentedToSec: encode(state.segmentedToSec),
        pending: state.pending,
        recent: state.recent,
        incident: state.incident.snapshot() ?? null,
        walkedToSec: encode(state.walkedToSec),
        held: state.held,
        settled: [...state.settled],
        away: [...state.away],
      } satisfies SiteSnapshot),
    ) as SiteSnapshot;
  }

  restore(site: string, snapshot: SiteSnapshot): void {
    const incident = new IncidentTracker(siteKey(site), site);
    incident.restore(snapshot.incident ?? undefined);
    this.sites.set(site, {
      site,
      cameras: new Map(Object.entries(snapshot.cameras)),
      sightings: new Map(snapshot.sightings),
      episodeEnd: new Map(snapshot.episodeEnd),
      segmentedToSec: decode(snapshot.segmentedToSec),
      pending: snapshot.pending,
      recent: snapshot.recent,
      incident,
      walkedToSec: decode(snapshot.walkedToSec),
      held: snapshot.held,
      settled: new Map(snapshot.settled),
      away: new Set(snapshot.away),
    });
  }

  /** Holds the camera's versions of incidents whose trigger a site rule listens for. */
  private hold(state: SiteState, camera: string, events: readonly SecurityEvent[]): void {
    const origin = state.cameras.get(camera)!.originSec;
    for (const event of events) {
      const held = state.held.find((h) => h.incidentId === event.incidentId);
      if (held) {
        held.events.push(event);
        continue;
      }
      if (
        event.state === 'opened' &&
        this.triggerClasses.has(event.trigger) &&
        !state.settled.has(event.incidentId)
      ) {
        state.held.push({
          incidentId: event.incidentId,
          camera,
          cls: event.trigger,
          atSec: origin + (event.evidence[0]?.atSec ?? event.startSec),
          events: [event],
        });
        continue;
      }
      // Settled earlier, or none of the site's business: queued all the same, so a camera's
      // versions keep their order.
      state.held.push({
        incidentId: event.incidentId,
        camera,
        cls: event.trigger,
        events: [event],
      });
    }
  }

  /**
   * Lets out, in order, the camera versions whose moment the site has decided: marked when a
   * site incident took their incident in. Stops at the first still waiting, so a camera's
   * versions keep their order.
   */
  private release(state: SiteState): SecurityEvent[] {
    const out: SecurityEvent[] = [];
    const overflow = state.held.length - this.maxHeld;
    let released = 0;
    for (const [index, held] of state.held.entries()) {
      let by = state.settled.get(held.incidentId);
      if (by === undefined) {
        const verdict = held.atSec === undefined ? '' : this.verdict(state, held, held.atSec);
        if (verdict === undefined && index >= overflow) break;
        by = verdict ?? '';
      }
      state.settled.set(held.incidentId, by);
      out.push(...held.events.map((e) => (by ? { ...e, absorbedBy: by } : e)));
      released++;
    }
    state.held.splice(0, released);
    while (state.settled.size > MAX_SETTLED) {
      state.settled.delete(state.settled.keys().next().value!);
    }
    return out;
  }

  /**
   * The site incident that takes a camera's incident in ('' for none), or undefined while
   * that is not known: the site episode its trigger belongs to (the latest site trigger of its
   * class at or before it) must know which cameras heard it, and, when this camera is among
   * them, have been decided.
   */
  private verdict(state: SiteState, held: Held, atSec: number): string | undefined {
    if (state.segmentedToSec < atSec + ROUNDING_SEC) return undefined;
    const owner = [...state.recent, ...state.pending]
      .filter((t) => t.cls === held.cls && t.atSec <= atSec + ROUNDING_SEC)
      .at(-1);
    if (!owner) return '';
    if (owner.heard === undefined) return undefined;
    if (!owner.heard.includes(held.camera)) return '';
    return state.pending.includes(owner) ? undefined : (owner.incidentId ?? '');
  }

  /**
   * Cuts the trigger classes' sightings up to the frontier into site episodes, in time order,
   * then decides the pending triggers in time order, stopping at the first that must wait.
   */
  private decide(state: SiteState): SecurityEvent[] {
    const events: SecurityEvent[] = [];
    const frontier = this.frontier(state);
    if (frontier > state.segmentedToSec) {
      const fresh = [...this.triggerClasses]
        .flatMap((cls) => state.sightings.get(cls) ?? [])
        .filter((s) => s.atSec > state.segmentedToSec && s.atSec <= frontier)
        .sort((a, b) => a.atSec - b.atSec || (a.camera < b.camera ? -1 : 1));
      for (const s of fresh) {
        const cls = s.detection.cls;
        const end = state.episodeEnd.get(cls);
        state.episodeEnd.set(cls, Math.max(end ?? -Infinity, s.endSec));
        if (end !== undefined && s.startSec <= end + this.ruleSet.episodeGapSec) continue;
        state.pending.push({ cls, camera: s.camera, atSec: s.atSec, endSec: s.endSec });
      }
      state.segmentedToSec = frontier;
    }
    const overflow = state.pending.length - this.maxPending;
    let decided = 0;
    for (const [index, trigger] of state.pending.entries()) {
      const forced = index < overflow;
      const outcome = this.firstMatch(state, trigger, forced);
      if (outcome === 'undecided') break;
      decided++;
      trigger.heard ??= this.heard(state, trigger, true) ?? [];
      events.push(...walkIncident(state, trigger.atSec));
      if (!outcome) continue;
      events.push(
        ...state.incident.fire({
          rule: outcome.rule,
          ruleIndex: this.ruleIndex.get(outcome.rule)!,
          cls: trigger.cls,
          atSec: trigger.atSec,
          endSec: trigger.endSec,
          evidence: outcome.evidence,
          site: outcome.site,
        }),
      );
      trigger.incidentId = state.incident.snapshot()?.id;
    }
    state.recent.push(...state.pending.splice(0, decided));
    state.recent.splice(0, state.recent.length - MAX_RECENT);
    // Triggers still waiting may already know who heard them: a camera's incident need not
    // wait for a slower rule's decision to learn that no site incident takes it in.
    for (const trigger of state.pending) trigger.heard ??= this.heard(state, trigger, false);
    events.push(...walkIncident(state, this.certain(state)));
    return events;
  }

  /** The cameras the first holding minCameras rule heard the trigger on; undefined: not known yet. */
  private heard(state: SiteState, trigger: SiteTrigger, forced: boolean): string[] | undefined {
    for (const rule of this.rules) {
      if (!rule.when.includes(trigger.cls) || rule.minCameras === undefined) continue;
      const scope = this.scopeOf(state, rule, trigger);
      if (!scope) continue;
      const outcome = this.heardBy(state, rule, trigger, scope, forced);
      if (outcome === 'undecided') return undefined;
      if (outcome) return outcome.site.cameras;
    }
    return [];
  }

  /** The cameras a rule spans for a trigger; undefined for a zone rule on a camera in no zone. */
  private scopeOf(state: SiteState, rule: Rule, trigger: SiteTrigger): string[] | undefined {
    const zone = state.cameras.get(trigger.camera)?.zone;
    if (rule.scope === 'zone' && zone === undefined) return undefined;
    return [...state.cameras.entries()]
      .filter(([, c]) => rule.scope === 'site' || c.zone === zone)
      .map(([id]) => id);
  }

  /** Site time before which every site trigger is decided. */
  private certain(state: SiteState): number {
    return Math.min(this.frontier(state), state.pending[0]?.atSec ?? Infinity);
  }

  /** Site time up to which every camera's trigger-modality detections are in. */
  private frontier(state: SiteState): number {
    // A configured camera not heard from yet may still have heard it: nothing is certain,
    // unless every camera that did send has ended (nothing more is coming to decide with).
    const waiting = this.expected(state.site).some(
      (c) => !state.cameras.has(c) && !state.away.has(c),
    );
    const allEnded = [...state.cameras.values()].every((c) => c.ended.audio && c.ended.video);
    if (waiting && !allEnded) return -Infinity;
    let frontier = Infinity;
    for (const camera of state.cameras.values()) {
      for (const m of this.triggerModalities) {
        if (!camera.ended[m]) frontier = Math.min(frontier, camera.reached[m] ?? -Infinity);
      }
    }
    return frontier;
  }

  private firstMatch(state: SiteState, trigger: SiteTrigger, forced: boolean): Outcome | undefined {
    const zone = state.cameras.get(trigger.camera)?.zone;
    for (const rule of this.rules) {
      if (!rule.when.includes(trigger.cls)) continue;
      const scope = this.scopeOf(state, rule, trigger);
      if (!scope) continue;
      const outcome = rule.with
        ? this.coOccurs(state, rule, trigger, scope, forced)
        : this.heardBy(state, rule, trigger, scope, forced);
      if (outcome)
        return rule.scope === 'zone' && outcome !== 'undecided'
          ? { ...outcome, site: { ...outcome.site, zone } }
          : outcome;
    }
    return undefined;
  }

  /** "Heard by at least minCameras cameras within withinSec of the first." */
  private heardBy(
    state: SiteState,
    rule: Rule,
    trigger: SiteTrigger,
    scope: string[],
    forced: boolean,
  ): Outcome | undefined {
    const to = trigger.atSec + rule.withinSec!;
    if (!forced && !this.complete(state, scope, modalityOf(trigger.cls), to)) return 'undecided';
    const first = this.firstPerCamera(state, trigger.cls, scope, trigger.atSec, to);
    if (first.length < rule.minCameras!) return undefined;
    return this.outcome(state, rule, first);
  }

  /** "The trigger on one camera, the rule's `with` class on another camera of the scope." */
  private coOccurs(
    state: SiteState,
    rule: Rule,
    trigger: SiteTrigger,
    scope: string[],
    forced: boolean,
  ): Outcome | undefined {
    const condition = rule.with!;
    const others = scope.filter((c) => c !== trigger.camera);
    const from = trigger.atSec - condition.withinSec;
    const to = trigger.atSec + condition.withinSec;
    const confirming = others.filter(
      (camera) =>
        (state.sightings.get(condition.class) ?? []).filter(
          (s) => s.camera === camera && s.atSec >= from && s.atSec <= to,
        ).length >= condition.minCount,
    );
    // Seen on another camera already: later data cannot take it back.
    if (confirming.length === 0) {
      if (!forced && !this.complete(state, others, modalityOf(condition.class), to)) {
        return 'undecided';
      }
      return undefined;
    }
    const triggerSighting = this.firstPerCamera(
      state,
      trigger.cls,
      [trigger.camera],
      trigger.atSec,
      trigger.atSec,
    );
    const confirmation = this.firstPerCamera(state, condition.class, confirming, from, to)[0];
    const picked = [...triggerSighting, confirmation].sort(
      (a, b) => a.atSec - b.atSec || (a.camera < b.camera ? -1 : 1),
    );
    return this.outcome(state, rule, picked);
  }

  private outcome(state: SiteState, rule: Rule, sightings: SiteSighting[]): Outcome {
    const first = sightings[0];
    return {
      rule,
      site: {
        cameras: sightings.map((s) => s.camera),
        originSec: state.cameras.get(first.camera)!.originSec,
      },
      evidence: sightings.map(evidenceOf),
    };
  }

  /** Each camera's first sighting of a class in [from, to], earliest camera first. */
  private firstPerCamera(
    state: SiteState,
    cls: CanonicalClass,
    cameras: string[],
    from: number,
    to: number,
  ): SiteSighting[] {
    const firsts = new Map<string, SiteSighting>();
    for (const s of state.sightings.get(cls) ?? []) {
      if (s.atSec < from || s.atSec > to || !cameras.includes(s.camera)) continue;
      const known = firsts.get(s.camera);
      if (!known || s.atSec < known.atSec) firsts.set(s.camera, s);
    }
    return [...firsts.values()].sort((a, b) => a.atSec - b.atSec || (a.camera < b.camera ? -1 : 1));
  }

  /** Whether every one of these cameras gave its detections of a modality up to `to`, or ended. */
  private complete(state: SiteState, cameras: string[], modality: Modality, to: number): boolean {
    return cameras.every((id) => {
      const camera = state.cameras.get(id)!;
      return camera.ended[modality] || (camera.reached[modality] ?? -Infinity) >= to;
    });
  }

  private prune(state: SiteState): void {
    const newest = Math.max(
      ...[...state.cameras.values()].flatMap((c) => [
        c.reached.audio ?? -Infinity,
        c.reached.video ?? -Infinity,
      ]),
    );
    const horizon = Math.min(
      newest - this.historySec,
      (state.pending[0]?.atSec ?? Infinity) - this.widestSec,
      state.walkedToSec,
      state.segmentedToSec - this.widestSec,
    );
    for (const [cls, list] of state.sightings) {
      const kept = list.filter((s) => s.atSec >= horizon);
      if (kept.length === 0) state.sightings.delete(cls);
      else if (kept.length !== list.length) state.sightings.set(cls, kept);
    }
  }

  private cameraOf(
    state: SiteState,
    streamId: string,
    placement: SitePlacement,
    originSec: number,
  ): CameraState {
    let camera = state.cameras.get(streamId);
    // A camera that ended and sends again is a new run of it: its clock starts over.
    if (!camera || (camera.ended.audio && camera.ended.video)) {
      camera = {
        ...(placement.zone ? { zone: placement.zone } : {}),
        originSec: round(originSec),
        lastStartSec: { audio: null, video: null },
        reached: { audio: null, video: null },
        ended: { audio: false, video: false },
      };
      state.cameras.set(streamId, camera);
    }
    return camera;
  }

  private stateOf(site: string): SiteState {
    let state = this.sites.get(site);
    if (!state) {
      state = {
        site,
        cameras: new Map(),
        sightings: new Map(),
        episodeEnd: new Map(),
        segmentedToSec: -Infinity,
        pending: [],
        recent: [],
        incident: new IncidentTracker(siteKey(site), site),
        walkedToSec: -Infinity,
        held: [],
        settled: new Map(),
        away: new Set(),
      };
      this.sites.set(site, state);
    }
    return state;
  }
}

function evidenceOf(sighting: SiteSighting): EventEvidence {
  return { ...evidenceFrom(sighting.detection, sighting.mediaSec), streamId: sighting.camera };
}

/** JSON has no infinities. */
function encode(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function decode(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

function modalityOf(cls: CanonicalClass): Modality {
  return isVideoClass(cls) ? 'video' : 'audio';
}
