import { type SecurityEvent, severityRank } from '@app/contracts';
import type { EventFilter } from './stored-event.types';

/**
 * The history's filter semantics in memory, for events already in hand (a live Subscribe
 * following the feed): the stream, or one of a site incident's cameras, is one of the ids; the
 * site (a site incident's, or a site camera's own incident's) is one of the sites, the zone one of
 * the zones; the trigger or any evidence class is one of the classes; the severity is at least
 * the minimum. Must agree with the SQL the repository
 * compiles; the spec checks them against each other.
 */
export function matchesEventFilter(event: SecurityEvent, filter: EventFilter): boolean {
  if (filter.streamIds?.length) {
    const streams = [event.streamId, ...(event.cameras ?? [])];
    if (!streams.some((id) => filter.streamIds!.includes(id))) return false;
  }
  if (filter.sites?.length && !(event.site && filter.sites.includes(event.site))) return false;
  if (filter.zones?.length && !(event.zone && filter.zones.includes(event.zone))) return false;
  if (filter.classes?.length) {
    const classes = filter.classes as readonly string[];
    const involved = [event.trigger, ...event.triggers, ...event.evidence.map((e) => e.cls)];
    if (!involved.some((cls) => classes.includes(cls))) {
      return false;
    }
  }
  if (filter.minSeverity && severityRank(event.severity) < severityRank(filter.minSeverity)) {
    return false;
  }
  return true;
}
