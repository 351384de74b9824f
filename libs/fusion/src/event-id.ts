import { createHash } from 'node:crypto';
import type { SecurityEvent } from '@app/contracts';

/**
 * Same stream, rule and trigger time → same id, so a replay after a crash re-emits an event
 * under the id consumers have already seen instead of alerting twice. Times are rounded to
 * 10 ms, the log-mel hop, so float noise cannot change an id.
 */
export function eventId(streamId: string, ruleId: string, triggerSec: number): string {
  return uuidOf(`${streamId}\u0000${ruleId}\u0000${Math.round(triggerSec * 100)}`);
}

/** One version of an incident: its own idempotency key, derived from the incident's. */
export function versionId(incidentId: string, version: number): string {
  return uuidOf(`${incidentId}\u0000v${version}`);
}

/**
 * A live stream's clock starts at 0 on every start, so its ids are scoped to the run: a
 * restarted camera's new incident must not pass for a replay of an old one. A crash replay
 * within the run keeps its id (the run rides on the messages).
 */
export function runScopedEventId(id: string, run: string): string {
  return uuidOf(`${id}\u0000${run}`);
}

/**
 * The moment an incident version was triggered: the camera its trigger detection came from,
 * the class and the media time (10 ms). A camera's own version and a site or zone incident
 * triggered by the same detection share it, which is how a site incident over an edge's cameras
 * finds the evidence the edge rendered for that camera's version.
 */
export function triggerMomentId(event: SecurityEvent): string {
  const trigger = event.evidence.find((e) => e.cls === event.trigger);
  const camera = trigger?.streamId ?? event.streamId;
  const atSec = trigger?.atSec ?? event.startSec;
  return uuidOf(`moment\u0000${camera}\u0000${event.trigger}\u0000${Math.round(atSec * 100)}`);
}

function uuidOf(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  // Formatted as a UUID (version nibble 5: name-based) because consumers' schemas expect one.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
