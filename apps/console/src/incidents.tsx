import { useEffect, useState } from 'preact/hooks';
import {
  api,
  type IncidentChange,
  type IncidentSummary,
  type SiteInfo,
  isIncidentChange,
} from './api';
import {
  DISPOSITION_LABEL,
  type Filters,
  NO_FILTERS,
  SEVERITIES,
  matches,
  query,
  streamName,
  when,
} from './format';
import type { LiveFeed } from './live';

/** Newest first; a pushed version replaces the incident's row and moves it to the top. */
function merge(list: IncidentSummary[], incident: IncidentSummary, filters: Filters) {
  const rest = list.filter((i) => i.incidentId !== incident.incidentId);
  const known = list.find((i) => i.incidentId === incident.incidentId);
  if (known && known.version > incident.version) return list;
  if (!matches(incident, filters)) return rest;
  return [incident, ...rest].sort((a, b) => b.updatedAt - a.updatedAt);
}

export function IncidentList({ live }: { live: LiveFeed }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [incidents, setIncidents] = useState<IncidentSummary[] | null>(null);
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  const [sites, setSites] = useState<SiteInfo[]>([]);

  // The configured sites, for the site filter; none configured: no site filter shown.
  useEffect(() => {
    let cancelled = false;
    api<{ sites: SiteInfo[] }>('GET', '/api/sites').then(
      ({ sites: list }) => !cancelled && setSites(list),
      (failure: Error) => !cancelled && setError(failure.message),
    );
    return () => {
      cancelled = true;
    };
  }, []);

  useEffect(() => {
    let cancelled = false;
    // Changes that arrive while the list loads are applied on top of it once it is in.
    const early: IncidentChange[] = [];
    let loaded = false;
    const unsubscribe = live.subscribe(
      (change) => {
        if (!isIncidentChange(change)) return;
        if (!loaded) early.push(change);
        else setIncidents((list) => merge(list ?? [], change.incident, filters));
      },
      () => setReload((n) => n + 1),
    );
    void live
      .open()
      .then(() => api<{ incidents: IncidentSummary[] }>('GET', `/api/incidents${query(filters)}`))
      .then(
        ({ incidents: list }) => {
          if (cancelled) return;
          loaded = true;
          setIncidents(early.reduce((acc, c) => merge(acc, c.incident, filters), list));
          setError('');
        },
        (failure: Error) => !cancelled && setError(failure.message),
      );
    return () => {
      cancelled = true;
      unsubscribe();
    };
  }, [filters, reload, live]);

  const set = (key: keyof Filters) => (event: Event) =>
    setFilters({ ...filters, [key]: (event.target as HTMLInputElement).value });

  return (
    <section>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter incidents">
        <label>
          Stream
          <input name="stream" value={filters.stream} onChange={set('stream')} placeholder="any" />
        </label>
        {sites.length > 0 && (
          <label>
            Site
            <select name="site" value={filters.site} onChange={set('site')}>
              <option value="">any</option>
              {sites.map((site) => (
                <option value={site.id}>{site.id}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          Severity at least
          <select name="severity" value={filters.severity} onChange={set('severity')}>
            <option value="">any</option>
            {SEVERITIES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          State
          <select name="state" value={filters.state} onChange={set('state')}>
            <option value="">any</option>
            <option value="open">open</option>
            <option value="closed">closed</option>
            <option value="new">new (not acted on)</option>
            <option value="acknowledged">acknowledged</option>
            <option value="resolved">resolved</option>
            <option value="false_alarm">false alarm</option>
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" name="from" value={filters.from} onChange={set('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" name="to" value={filters.to} onChange={set('to')} />
        </label>
      </form>
      {error && <p class="error">{error}</p>}
      {incidents === null ? (
        <p class="muted">Loading…</p>
      ) : incidents.length === 0 ? (
        <p class="muted" id="no-incidents">
          No incidents{filters === NO_FILTERS ? ' yet' : ' match these filters'}.
        </p>
      ) : (
        <ul class="incidents" id="incidents">
          {incidents.map((i) => (
            <li
              key={i.incidentId}
              class={`incident sev-${i.severity}`}
              data-incident={i.incidentId}
            >
              <a href={`#/incidents/${encodeURIComponent(i.incidentId)}`}>
                <span class={`badge sev-${i.severity}`}>{i.severity}</span>
                <strong class="title">{i.title}</strong>
                <span class="meta">
                  {streamName(i)} · {when(i.updatedAt)} · v{i.version} {i.state}
                </span>
                <span class={`badge disp-${i.disposition}`} data-disposition={i.disposition}>
                  {DISPOSITION_LABEL[i.disposition]}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
