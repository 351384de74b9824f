import {
  type CanonicalClass,
  type Detection,
  type EventEvidence,
  type IncidentState,
  type SecurityEvent,
  severityRank,
} from '@app/contracts';
import { eventId, versionId } from './event-id';
import type { Rule } from './rules.schema';

/** A rule that held for a trigger: what the engine hands the tracker, in trigger-time order. */
export interface Firing {
  rule: Rule;
  /** Position in the rule file: earlier rules are the more specific ones. */
  ruleIndex: number;
  cls: CanonicalClass;
  atSec: number;
  endSec: number;
  /** The trigger's detection, then the one confirming it (cross-modal rules). */
  evidence: EventEvidence[];
  /** Site and zone rules: the cameras involved, earliest first, and where they are. */
  site?: SiteFiring;
}

export interface SiteFiring {
  cameras: string[];
  zone?: string;
  /**
   * Site time (the seconds all the site's cameras share) of the first camera's media time 0:
   * the incident reports its times in that camera's media time, as a camera's incident does.
   */
  originSec: number;
}

/** A detection of one of the open incident's classes: it keeps the incident open. */
export interface Activity {
  atSec: number;
  endSec: number;
}

/** The open incident as plain data: what a fusion checkpoint carries. */
export interface OpenIncident {
  id: string;
  version: number;
  rule: Rule;
  rank: number;
  /** The class that fired the current rule: the title names it. */
  ruleTrigger: CanonicalClass;
  trigger: CanonicalClass;
  triggers: CanonicalClass[];
  startSec: number;
  /** The latest activity: the incident closes when nothing follows it for the quiet period. */
  lastActiveSec: number;
  endSec: number;
  evidence: EventEvidence[];
  /** A site incident's cameras (earliest first: the first names the incident's stream). */
  site?: SiteFiring;
}

/** Evidence an incident carries at most: the newest triggers' first. */
const MAX_EVIDENCE = 12;

/**
 * One stream's incident lifecycle: at most one incident open, opened by a firing, updated when
 * a new trigger class joins, escalated when a higher-ranked rule fires, and closed once its
 * classes stay quiet for its rule's `quietSec`. Fed in media-time order (the engine decides
 * triggers strictly in time order), it is a pure function of the detections, so the same input
 * yields the same incident ids and versions in one process and across the services.
 */
export class IncidentTracker {
  private open?: OpenIncident;

  /**
   * `streamId` scopes the ids: a camera's stream id, or a site's key for a site's incidents,
   * which then report `site` and take their stream id from their first camera.
   */
  constructor(
    private readonly streamId: string,
    private readonly site?: string,
  ) {}

  /** The open incident as plain data (undefined when none is open). */
  snapshot(): OpenIncident | undefined {
    return this.open && structuredClone(this.open);
  }

  restore(open: OpenIncident | undefined): void {
    this.open = open && structuredClone(open);
  }

  /** The classes whose detections keep the open incident alive (none when none is open). */
  classes(): readonly CanonicalClass[] {
    return this.open?.triggers ?? [];
  }

  /** When the open incident closes unless more activity comes; Infinity when none is open. */
  closesAtSec(): number {
    return this.open ? this.open.lastActiveSec + this.open.rule.quietSec : Infinity;
  }

  /** Notes activity of the open incident's classes, in time order; closes it first if it went quiet. */
  touch(activity: Activity): SecurityEvent[] {
    const closed = this.closeIfQuietAt(activity.atSec);
    if (this.open) {
      this.open.lastActiveSec = Math.max(this.open.lastActiveSec, activity.atSec);
      this.open.endSec = Math.max(this.open.endSec, activity.endSec);
    }
    return closed;
  }

  /** Media time reached with no activity left to come before it: closes a quiet incident. */
  closeIfQuietAt(sec: number): SecurityEvent[] {
    if (!this.open || sec <= this.closesAtSec()) return [];
    const incident = this.open;
    this.open = undefined;
    incident.version++;
    return [this.version(incident, 'closed')];
  }

  /** A rule fired at `firing.atSec` (the caller closed what went quiet before it). */
  fire(firing: Firing): SecurityEvent[] {
    const rank = severityRank(firing.rule.severity) * 10_000 - firing.ruleIndex;
    const incident = this.open;
    if (!incident) {
      this.open = {
        id: eventId(this.streamId, firing.rule.id, firing.atSec),
        version: 1,
        rule: firing.rule,
        rank,
        ruleTrigger: firing.cls,
        trigger: firing.cls,
        triggers: [firing.cls],
        startSec: firing.atSec,
        lastActiveSec: firing.atSec,
        endSec: firing.endSec,
        evidence: firing.evidence,
        ...(firing.site ? { site: structuredClone(firing.site) } : {}),
      };
      return [this.version(this.open, 'opened')];
    }
    incident.lastActiveSec = Math.max(incident.lastActiveSec, firing.atSec);
    incident.endSec = Math.max(incident.endSec, firing.endSec);
    const escalates = rank > incident.rank;
    const joins = !incident.triggers.includes(firing.cls);
    const newCameras = (firing.site?.cameras ?? []).filter(
      (c) => incident.site && !incident.site.cameras.includes(c),
    );
    incident.site?.cameras.push(...newCameras);
    // The same class firing again is the same incident going on: nothing new to report, unless
    // a site incident was heard on another camera.
    if (!escalates && !joins && newCameras.length === 0) return [];
    incident.version++;
    incident.trigger = firing.cls;
    if (joins) incident.triggers.push(firing.cls);
    incident.evidence = [...firing.evidence, ...incident.evidence].slice(0, MAX_EVIDENCE);
    if (escalates) {
      incident.rule = firing.rule;
      incident.rank = rank;
      incident.ruleTrigger = firing.cls;
    }
    return [this.version(incident, escalates ? 'escalated' : 'updated')];
  }

  private version(incident: OpenIncident, state: IncidentState): SecurityEvent {
    const site = incident.site;
    const origin = site?.originSec ?? 0;
    return {
      id: versionId(incident.id, incident.version),
      incidentId: incident.id,
      version: incident.version,
      state,
      streamId: site ? site.cameras[0] : this.streamId,
      rule: incident.rule.id,
      title: incident.rule.title
        .replace('{trigger}', incident.ruleTrigger.replace('_', ' '))
        .replace('{cameras}', String(site?.cameras.length ?? 1)),
      severity: incident.rule.severity,
      startSec: round(incident.startSec - origin),
      endSec: round(incident.endSec - origin),
      trigger: incident.trigger,
      triggers: [...incident.triggers],
      evidence: [...incident.evidence],
      ...(site && this.site
        ? {
            site: this.site,
            ...(site.zone ? { zone: site.zone } : {}),
            cameras: [...site.cameras],
          }
        : {}),
    };
  }
}

/** What walkIncident needs of an engine's per-stream (or per-site) state. */
export interface WalkedState {
  incident: IncidentTracker;
  sightings: ReadonlyMap<CanonicalClass, readonly Activity[]>;
  walkedToSec: number;
}

/**
 * Feeds the open incident its classes' detections in (walkedToSec, toSec], in time order, and
 * closes it if it went quiet before toSec. One walk for a camera's engine and a site's.
 */
export function walkIncident(state: WalkedState, toSec: number): SecurityEvent[] {
  if (toSec <= state.walkedToSec) return [];
  const from = state.walkedToSec;
  state.walkedToSec = toSec;
  const events: SecurityEvent[] = [];
  const activity = state.incident
    .classes()
    .flatMap((cls) => state.sightings.get(cls) ?? [])
    .filter((s) => s.atSec > from && s.atSec <= toSec)
    .sort((a, b) => a.atSec - b.atSec);
  for (const sighting of activity) events.push(...state.incident.touch(sighting));
  events.push(...state.incident.closeIfQuietAt(toSec));
  return events;
}

/** A detection as an incident lists it: at `atSec` on the incident's clock, box in whole pixels. */
export function evidenceFrom(detection: Detection, atSec: number): EventEvidence {
  return {
    cls: detection.cls,
    modality: detection.modality,
    score: round(detection.score, 3),
    atSec: round(atSec),
    ...(detection.box
      ? { box: detection.box.map((v) => Math.round(v)) as [number, number, number, number] }
      : {}),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
