import {
  type CanonicalClass,
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

  constructor(private readonly streamId: string) {}

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
      };
      return [this.version(this.open, 'opened')];
    }
    incident.lastActiveSec = Math.max(incident.lastActiveSec, firing.atSec);
    incident.endSec = Math.max(incident.endSec, firing.endSec);
    const escalates = rank > incident.rank;
    const joins = !incident.triggers.includes(firing.cls);
    // The same class firing again is the same incident going on: nothing new to report.
    if (!escalates && !joins) return [];
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
    return {
      id: versionId(incident.id, incident.version),
      incidentId: incident.id,
      version: incident.version,
      state,
      streamId: this.streamId,
      rule: incident.rule.id,
      title: incident.rule.title.replace('{trigger}', incident.ruleTrigger.replace('_', ' ')),
      severity: incident.rule.severity,
      startSec: round(incident.startSec),
      endSec: round(incident.endSec),
      trigger: incident.trigger,
      triggers: [...incident.triggers],
      evidence: [...incident.evidence],
    };
  }
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
