import type { Disposition, IncidentSummary, Severity } from './api';

export const SEVERITIES: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
export const SEVERITY_RANK: Record<Severity, number> = {
  info: 0,
  low: 1,
  medium: 2,
  high: 3,
  critical: 4,
};

export const DISPOSITION_LABEL: Record<Disposition, string> = {
  new: 'new',
  acknowledged: 'acknowledged',
  resolved: 'resolved',
  false_alarm: 'false alarm',
};

export const ACTION_LABEL = {
  acknowledge: 'Acknowledged',
  resolve: 'Resolved',
  false_alarm: 'Marked a false alarm',
} as const;

export function when(ms: number): string {
  return new Date(ms).toLocaleString();
}

export function streamTime(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}

/** Where it happened: the camera, or a site incident's site, zone and cameras (earliest first). */
export function streamName(
  incident: Pick<IncidentSummary, 'streamId' | 'streamLabels'> &
    Partial<Pick<IncidentSummary, 'site' | 'zone' | 'cameras' | 'absorbedBy'>>,
): string {
  if (incident.cameras?.length) {
    const place = incident.zone ? `${incident.site} / ${incident.zone}` : incident.site;
    return `site ${place}: ${incident.cameras.join(', ')}`;
  }
  const camera = incident.streamLabels.camera ?? incident.streamLabels.name;
  const name = camera ? `${camera} (${incident.streamId})` : incident.streamId;
  if (incident.absorbedBy) return `${name} · part of a site incident`;
  return incident.site ? `${name} · site ${incident.site}` : name;
}

export interface Filters {
  stream: string;
  /** A configured site: its incidents and its cameras' own. */
  site: string;
  severity: '' | Severity;
  state: '' | 'open' | 'closed' | Disposition;
  from: string;
  to: string;
}

export const NO_FILTERS: Filters = {
  stream: '',
  site: '',
  severity: '',
  state: '',
  from: '',
  to: '',
};

/** The same test the server applies, for incidents pushed live. */
export function matches(incident: IncidentSummary, filters: Filters): boolean {
  // A site incident is each of its cameras' too, as the server's stream filter has it.
  if (
    filters.stream &&
    ![incident.streamId, ...(incident.cameras ?? [])].includes(filters.stream)
  ) {
    return false;
  }
  if (filters.site && incident.site !== filters.site) return false;
  if (filters.severity && SEVERITY_RANK[incident.severity] < SEVERITY_RANK[filters.severity]) {
    return false;
  }
  if (filters.state === 'open' && incident.state === 'closed') return false;
  if (filters.state === 'closed' && incident.state !== 'closed') return false;
  if (
    filters.state &&
    filters.state !== 'open' &&
    filters.state !== 'closed' &&
    incident.disposition !== filters.state
  ) {
    return false;
  }
  if (filters.from && incident.updatedAt < new Date(filters.from).getTime()) return false;
  if (filters.to && incident.updatedAt >= new Date(filters.to).getTime()) return false;
  return true;
}

export function query(filters: Filters): string {
  const params = new URLSearchParams();
  if (filters.stream) params.set('stream', filters.stream);
  if (filters.site) params.set('site', filters.site);
  if (filters.severity) params.set('severity', filters.severity);
  if (filters.state) params.set('state', filters.state);
  if (filters.from) params.set('from', new Date(filters.from).toISOString());
  if (filters.to) params.set('to', new Date(filters.to).toISOString());
  const text = params.toString();
  return text ? `?${text}` : '';
}
