import {
  SEVERITIES,
  isAudioClass,
  isVideoClass,
  severityRank,
  type CanonicalClass,
  type Severity,
} from '@app/contracts';
import { HistoryError } from './history.error';
import type { SqlDialect, SqlValue } from './sql.port';
import type { EventFilter } from './stored-event.types';

/** A filter checked and put in canonical form: sorted, deduplicated, empty lists dropped. */
export interface CheckedFilter {
  streamIds?: string[];
  classes?: CanonicalClass[];
  minSeverity?: Severity;
  sites?: string[];
  zones?: string[];
  from?: number;
  to?: number;
}

export interface CompiledFilter {
  /** `AND`-joined conditions on the `events` table, or 'TRUE' when nothing is filtered. */
  where: string;
  params: SqlValue[];
}

/** Validates a filter once, naming the offending field so the API can say INVALID_ARGUMENT. */
export function checkFilter(filter: EventFilter & { from?: number; to?: number }): CheckedFilter {
  const checked: CheckedFilter = {};
  const streamIds = idList(filter.streamIds, 'streamIds', 'stream ids');
  if (streamIds) checked.streamIds = streamIds;
  const sites = idList(filter.sites, 'sites', 'site ids');
  if (sites) checked.sites = sites;
  const zones = idList(filter.zones, 'zones', 'zone ids');
  if (zones) checked.zones = zones;
  if (filter.classes !== undefined) {
    if (!Array.isArray(filter.classes)) {
      throw new HistoryError('invalid-argument', 'classes', 'must be a list of classes');
    }
    for (const cls of filter.classes as readonly string[]) {
      if (typeof cls !== 'string' || !(isAudioClass(cls) || isVideoClass(cls))) {
        throw new HistoryError('invalid-argument', 'classes', `unknown class ${String(cls)}`);
      }
    }
    if (filter.classes.length > 0) checked.classes = [...new Set(filter.classes)].sort();
  }
  if (filter.minSeverity !== undefined) {
    if (!(SEVERITIES as readonly string[]).includes(filter.minSeverity)) {
      throw new HistoryError(
        'invalid-argument',
        'minSeverity',
        `must be one of ${SEVERITIES.join(', ')}, got ${String(filter.minSeverity)}`,
      );
    }
    checked.minSeverity = filter.minSeverity;
  }
  for (const field of ['from', 'to'] as const) {
    const value = filter[field];
    if (value === undefined) continue;
    if (!Number.isFinite(value)) {
      throw new HistoryError('invalid-argument', field, 'must be a time in ms since the epoch');
    }
    checked[field] = value;
  }
  if (checked.from !== undefined && checked.to !== undefined && checked.from > checked.to) {
    throw new HistoryError('invalid-argument', 'from', 'must not be after `to`');
  }
  return checked;
}

/** A list of ids, sorted and deduplicated; undefined when left out or empty (all match). */
function idList(
  list: readonly string[] | undefined,
  field: 'streamIds' | 'sites' | 'zones',
  what: string,
): string[] | undefined {
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) {
    throw new HistoryError('invalid-argument', field, `must be a list of ${what}`);
  }
  for (const id of list as readonly unknown[]) {
    if (typeof id !== 'string' || id === '') {
      throw new HistoryError('invalid-argument', field, 'must not hold an empty id');
    }
  }
  return list.length > 0 ? [...new Set(list)].sort() : undefined;
}

/**
 * Turns a checked filter into SQL. Lists travel as one parameter (a JSON array read by
 * json_each on SQLite, a text[] on PostgreSQL), so the SQL text depends only on which filters
 * are set: a handful of shapes whose prepared statements the SQLite adapter caches, whatever the
 * list lengths.
 */
export function compileFilter(filter: CheckedFilter, dialect: SqlDialect): CompiledFilter {
  const clauses: string[] = [];
  const params: SqlValue[] = [];
  if (filter.streamIds) {
    // A site incident is each of its cameras' too; site incidents are few and indexed apart.
    clauses.push(
      `(${dialect.inList('stream_id')} OR ` +
        `(cameras IS NOT NULL AND ${dialect.jsonArrayHasAny('cameras')}))`,
    );
    params.push(dialect.listParam(filter.streamIds), dialect.listParam(filter.streamIds));
  }
  if (filter.sites) {
    // A camera's own incident in a site carries the site as a site incident does.
    clauses.push(dialect.inList('site'));
    params.push(dialect.listParam(filter.sites));
  }
  if (filter.zones) {
    clauses.push(dialect.inList('zone'));
    params.push(dialect.listParam(filter.zones));
  }
  if (filter.classes) {
    // event_classes holds the trigger and every evidence class, indexed by class.
    clauses.push(`seq IN (SELECT seq FROM event_classes WHERE ${dialect.inList('cls')})`);
    params.push(dialect.listParam(filter.classes));
  }
  if (filter.minSeverity) {
    clauses.push('severity_rank >= ?');
    params.push(severityRank(filter.minSeverity));
  }
  if (filter.from !== undefined) {
    clauses.push('occurred_at >= ?');
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    clauses.push('occurred_at < ?');
    params.push(filter.to);
  }
  return { where: clauses.length ? clauses.join(' AND ') : 'TRUE', params };
}
