import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, api, type Session, type StreamInfo } from './api';
import { when } from './format';
import type { LiveFeed } from './live';

const RUNNING = ['starting', 'started', 'reconnecting', 'stalled'];

export function StreamsPage({ session, live }: { session: Session; live: LiveFeed }) {
  const [streams, setStreams] = useState<StreamInfo[] | null>(null);
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);
  const operator = session.role === 'operator' && session.canControlStreams;

  // States as they change (starting, started, failed with its reason, ended), pushed live.
  useEffect(
    () =>
      live.subscribe(
        (change) => {
          if (change.type !== 'stream') return;
          setStreams((list) =>
            [
              change.stream,
              ...(list ?? []).filter((s) => s.streamId !== change.stream.streamId),
            ].sort((a, b) => b.startedAt - a.startedAt || a.streamId.localeCompare(b.streamId)),
          );
        },
        () => setReload((n) => n + 1),
      ),
    [live],
  );

  useEffect(() => {
    void live.open();
    api<{ streams: StreamInfo[] }>('GET', '/api/streams').then(
      ({ streams: list }) => {
        setStreams(list);
        setError('');
      },
      (failure: Error) => setError(failure.message),
    );
  }, [reload]);

  const stop = (id: string) => async () => {
    try {
      await api('POST', `/api/streams/${encodeURIComponent(id)}/stop`);
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure.message : String(failure));
    }
    setReload((n) => n + 1);
  };

  return (
    <section>
      {operator && <StartForm onStarted={() => setReload((n) => n + 1)} />}
      <p>
        <button class="secondary" onClick={() => setReload((n) => n + 1)}>
          Refresh
        </button>
      </p>
      {error && <p class="error">{error}</p>}
      {!session.canControlStreams && (
        <p class="muted">Streams are run by the ingest service in this deployment.</p>
      )}
      {streams && streams.length === 0 && <p class="muted">No streams.</p>}
      {streams && streams.length > 0 && (
        <ul class="streams" id="streams">
          {streams.map((s) => (
            <li key={s.streamId} data-stream={s.streamId}>
              <strong>{s.streamId}</strong> <span class={`badge st-${s.state}`}>{s.state}</span>
              <span class="meta">
                {s.site && (
                  <span class="site" data-site={s.site}>
                    site {s.zone ? `${s.site} / ${s.zone}` : s.site} ·{' '}
                  </span>
                )}
                {s.source} · since {when(s.startedAt)}
                {s.decodedSec !== undefined ? ` · ${s.decodedSec.toFixed(1)} s decoded` : ''}
              </span>
              {s.reason && <span class="error">{s.reason}</span>}
              {operator && RUNNING.includes(s.state) && (
                <button class="secondary" onClick={stop(s.streamId)}>
                  Stop
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function StartForm({ onStarted }: { onStarted: () => void }) {
  const [source, setSource] = useState('');
  const [streamId, setStreamId] = useState('');
  const [live, setLive] = useState(false);
  const [loop, setLoop] = useState(false);
  const [error, setError] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      await api('POST', '/api/streams', {
        source,
        ...(streamId ? { streamId } : {}),
        ...(live ? { live } : {}),
        ...(loop ? { loop } : {}),
      });
      setSource('');
      setStreamId('');
      onStarted();
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure.message : String(failure));
    }
  };
  return (
    <form class="start" id="start-stream" onSubmit={submit}>
      <label>
        Source (file under a media root, or a URL)
        <input
          name="source"
          required
          value={source}
          onInput={(e) => setSource((e.target as HTMLInputElement).value)}
        />
      </label>
      <label>
        Stream id (optional)
        <input
          name="streamId"
          value={streamId}
          onInput={(e) => setStreamId((e.target as HTMLInputElement).value)}
        />
      </label>
      <label class="check">
        <input
          type="checkbox"
          checked={live}
          onChange={(e) => setLive((e.target as HTMLInputElement).checked)}
        />{' '}
        play as live
      </label>
      <label class="check">
        <input
          type="checkbox"
          checked={loop}
          onChange={(e) => setLoop((e.target as HTMLInputElement).checked)}
        />{' '}
        loop
      </label>
      <button type="submit">Start</button>
      {error && <p class="error">{error}</p>}
    </form>
  );
}
