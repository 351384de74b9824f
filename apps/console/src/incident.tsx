import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, type IncidentDetail, type Session, isIncidentChange } from './api';
import { ACTION_LABEL, DISPOSITION_LABEL, streamName, streamTime, when } from './format';
import type { LiveFeed } from './live';

export function IncidentPage(props: { id: string; live: LiveFeed; session: Session }) {
  const { id, live, session } = props;
  const [detail, setDetail] = useState<IncidentDetail | null>(null);
  const [error, setError] = useState('');
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let cancelled = false;
    const unsubscribe = live.subscribe(
      (change) =>
        (change.type === 'suppression' ||
          (isIncidentChange(change) && change.incident.incidentId === id)) &&
        setVersion((n) => n + 1),
      () => setVersion((n) => n + 1),
    );
    void live
      .open()
      .then(() => api<IncidentDetail>('GET', `/api/incidents/${encodeURIComponent(id)}`))
      .then(
        (loaded) => {
          if (cancelled) return;
          setDetail(loaded);
          setError('');
        },
        (failure: Error) => !cancelled && setError(failure.message),
      );
    return () => {
      cancelled = true;
      unsubscribe();
    };
  }, [id, version, live]);

  if (error) return <p class="error">{error}</p>;
  if (!detail) return <p class="muted">Loading…</p>;
  const { incident } = detail;
  const evidence = Object.fromEntries(detail.evidence.map((e) => [e.name, e]));
  return (
    <article class="incident-page">
      <p>
        <a href="#/">← Incidents</a>
      </p>
      <h2>
        <span class={`badge sev-${incident.severity}`}>{incident.severity}</span> {incident.title}
      </h2>
      <p class="meta">
        {streamName(incident)} · rule {incident.rule} · v{incident.version} {incident.state} ·{' '}
        <span class={`badge disp-${incident.disposition}`} id="disposition">
          {DISPOSITION_LABEL[incident.disposition]}
        </span>
      </p>
      {session.role === 'operator' && <Actions detail={detail} />}
      <Suppressions detail={detail} operator={session.role === 'operator'} />
      <h3>Evidence</h3>
      <div class="evidence">
        {evidence['snapshot.jpg'] ? (
          <figure>
            <img id="snapshot" src={evidence['snapshot.jpg'].url} alt="Snapshot with detections" />
            <figcaption>Snapshot</figcaption>
          </figure>
        ) : (
          <p class="muted">No snapshot (no video at the trigger).</p>
        )}
        {evidence['spectrogram.png'] && (
          <figure>
            <img id="spectrogram" src={evidence['spectrogram.png'].url} alt="Spectrogram" />
            <figcaption>Spectrogram</figcaption>
          </figure>
        )}
        {evidence['audio.wav'] ? (
          <figure>
            <audio id="clip" controls preload="metadata" src={evidence['audio.wav'].url} />
            <figcaption>Audio clip</figcaption>
          </figure>
        ) : (
          <p class="muted">No audio clip.</p>
        )}
      </div>
      <h3>Timeline</h3>
      <Strip detail={detail} />
      <Timeline detail={detail} />
    </article>
  );
}

function Actions({ detail }: { detail: IncidentDetail }) {
  const [note, setNote] = useState('');
  const [suppress, setSuppress] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const disposition = detail.incident.disposition;
  const closed = disposition === 'resolved' || disposition === 'false_alarm';
  const act = (action: 'acknowledge' | 'resolve' | 'false_alarm') => async () => {
    setBusy(true);
    setError('');
    try {
      await api(
        'POST',
        `/api/incidents/${encodeURIComponent(detail.incident.incidentId)}/actions`,
        {
          action,
          note,
          ...(action === 'false_alarm' && suppress ? { suppressMinutes: Number(suppress) } : {}),
        },
      );
      setNote('');
      setSuppress('');
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  if (closed) return null;
  return (
    <form class="actions" onSubmit={(e) => e.preventDefault()}>
      <textarea
        name="note"
        placeholder="Note (optional)"
        maxLength={2000}
        value={note}
        onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
      />
      <label>
        With a false alarm, ignore {detail.incident.triggers.join(', ')} on this stream for
        <select
          name="suppress"
          value={suppress}
          onChange={(e) => setSuppress((e.target as HTMLSelectElement).value)}
        >
          <option value="">no time (feedback only)</option>
          <option value="60">1 hour</option>
          <option value="480">8 hours</option>
          <option value="1440">24 hours</option>
        </select>
      </label>
      <div class="buttons">
        {disposition === 'new' && (
          <button id="acknowledge" disabled={busy} onClick={act('acknowledge')}>
            Acknowledge
          </button>
        )}
        <button id="resolve" disabled={busy} onClick={act('resolve')}>
          Resolve
        </button>
        <button id="false-alarm" class="secondary" disabled={busy} onClick={act('false_alarm')}>
          False alarm
        </button>
      </div>
      {error && <p class="error">{error}</p>}
    </form>
  );
}

/** Classes ignored on this incident's stream ("false alarm" feedback), until they expire or are lifted. */
function Suppressions({ detail, operator }: { detail: IncidentDetail; operator: boolean }) {
  const [error, setError] = useState('');
  if (detail.suppressions.length === 0) return null;
  const lift = (id: number) => async () => {
    try {
      await api('DELETE', `/api/suppressions/${id}`);
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure.message : String(failure));
    }
  };
  return (
    <section class="suppressions" id="suppressions">
      <h3>Suppressed on {detail.incident.streamId}</h3>
      <ul>
        {detail.suppressions.map((s) => (
          <li key={s.id} data-suppression={s.cls}>
            <strong>{s.cls}</strong> ignored until {when(s.until)} (by {s.createdBy})
            {operator && (
              <button class="secondary" onClick={lift(s.id)}>
                Lift
              </button>
            )}
          </li>
        ))}
      </ul>
      {error && <p class="error">{error}</p>}
    </section>
  );
}

const CLASS_COLORS = ['#e4572e', '#29335c', '#f3a712', '#669bbc', '#a8c686', '#8e5572'];

/** Stream seconds: each version's window, and every detection that made one, by class. */
function Strip({ detail }: { detail: IncidentDetail }) {
  const detections = detail.versions.flatMap((v) => v.detections);
  const times = [
    ...detections.map((d) => d.atSec),
    ...detail.versions.flatMap((v) => [v.startSec, v.endSec]),
  ];
  const start = Math.max(0, Math.floor(Math.min(...times) - 1));
  const end = Math.ceil(Math.max(...times) + 1);
  const classes = [...new Set(detections.map((d) => d.cls))];
  const x = (sec: number) => 40 + ((sec - start) / Math.max(1, end - start)) * 540;
  const rowY = (cls: string) => 30 + classes.indexOf(cls) * 18;
  const height = 40 + classes.length * 18;
  return (
    <svg class="strip" viewBox={`0 0 600 ${height}`} role="img" aria-label="Detections over time">
      <line x1="40" x2="580" y1="14" y2="14" class="axis" />
      <text x="40" y="10" class="tick">
        {streamTime(start)}
      </text>
      <text x="580" y="10" class="tick" text-anchor="end">
        {streamTime(end)}
      </text>
      {detail.versions.map((v) => (
        <rect
          x={x(v.startSec)}
          y="16"
          width={Math.max(2, x(v.endSec) - x(v.startSec))}
          height={height - 20}
          class="window"
        >
          <title>{`v${v.version} ${v.state} (${v.trigger})`}</title>
        </rect>
      ))}
      {classes.map((cls, i) => (
        <text x="0" y={rowY(cls) + 4} class="label" fill={CLASS_COLORS[i % CLASS_COLORS.length]}>
          {cls}
        </text>
      ))}
      {detections.map((d) => (
        <circle
          cx={x(d.atSec)}
          cy={rowY(d.cls)}
          r={3 + 4 * d.score}
          fill={CLASS_COLORS[classes.indexOf(d.cls) % CLASS_COLORS.length]}
        >
          <title>{`${d.cls} ${d.score.toFixed(2)} @ ${streamTime(d.atSec)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

/** Versions and operator actions in the order they happened (wall clock). */
function Timeline({ detail }: { detail: IncidentDetail }) {
  const entries = [
    ...detail.versions.map((v) => ({
      at: v.occurredAt,
      key: `v${v.version}`,
      body: (
        <>
          <strong>
            v{v.version} {v.state}
          </strong>{' '}
          — {v.title} ({v.severity}); trigger {v.trigger} at {streamTime(v.startSec)}
          {v.triggers.length > 1 ? `; triggers ${v.triggers.join(', ')}` : ''}
          <span class="muted">
            {' '}
            · detections:{' '}
            {v.detections
              .map(
                (d) =>
                  `${d.cls} ${d.score.toFixed(2)} @ ${streamTime(d.atSec)}${d.streamId ? ` on ${d.streamId}` : ''}`,
              )
              .join(', ')}
          </span>
        </>
      ),
    })),
    ...detail.actions.map((a) => ({
      at: a.at,
      key: `a${a.seq}`,
      body: (
        <span class="action" data-action={a.action}>
          <strong>{ACTION_LABEL[a.action]}</strong> by {a.actor} ({a.role})
          {a.note ? <q>{a.note}</q> : null}
        </span>
      ),
    })),
  ].sort((a, b) => a.at - b.at);
  return (
    <ol class="timeline" id="timeline">
      {entries.map((e) => (
        <li key={e.key}>
          <time>{when(e.at)}</time> {e.body}
        </li>
      ))}
    </ol>
  );
}
