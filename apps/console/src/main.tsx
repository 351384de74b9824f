import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiFailure, api, type Session, bindSession } from './api';
import { IncidentPage } from './incident';
import { IncidentList } from './incidents';
import { LiveFeed } from './live';
import { StreamsPage } from './streams';

function useHashRoute(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash.replace(/^#/, '') || '/';
}

function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      onSignedIn(await api<Session>('POST', '/api/session', { token }));
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure.message : String(failure));
    }
  };
  return (
    <form class="sign-in" id="sign-in" onSubmit={submit}>
      <h1>Vigil</h1>
      <label>
        API token
        <input
          type="password"
          name="token"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
      </label>
      <button type="submit">Sign in</button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function App() {
  // undefined: asking the server; null: signed out.
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [connected, setConnected] = useState(false);
  const live = useMemo(() => new LiveFeed(), [session]);
  const route = useHashRoute();
  bindSession(session ?? null, () => setSession(null));

  useEffect(() => {
    api<Session>('GET', '/api/session').then(setSession, () => setSession(null));
  }, []);
  useEffect(() => {
    live.onStatus = setConnected;
    return () => live.close();
  }, [live]);

  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;

  const signOut = async () => {
    await api('DELETE', '/api/session').catch(() => undefined);
    setSession(null);
  };
  const incident = /^\/incidents\/(.+)$/.exec(route);
  return (
    <>
      <header>
        <h1>
          <a href="#/">Vigil</a>
        </h1>
        <nav>
          <a href="#/" class={route === '/' ? 'current' : ''}>
            Incidents
          </a>
          <a href="#/streams" class={route === '/streams' ? 'current' : ''}>
            Streams
          </a>
        </nav>
        <span class={connected ? 'live on' : 'live'} title="Live updates" id="live">
          {connected ? 'live' : 'offline'}
        </span>
        <span class="who" id="who">
          {session.name} ({session.role})
        </span>
        <button class="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        {incident ? (
          <IncidentPage id={decodeURIComponent(incident[1]!)} live={live} session={session} />
        ) : route === '/streams' ? (
          <StreamsPage session={session} live={live} />
        ) : (
          <IncidentList live={live} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
