import { ConsoleSessionStore, csrfMatches } from './console-session.store';

describe('ConsoleSessionStore', () => {
  const desk = { name: 'desk', role: 'operator' as const };

  it('finds a session by its id until it expires or is deleted', () => {
    let now = 0;
    const store = new ConsoleSessionStore(() => now, 1000, 10);
    const { id, session } = store.create(desk);
    expect(id).toMatch(/^[\w-]{43}$/);
    expect(store.get(id)).toBe(session);
    expect(store.get('someone-else')).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    now = 999;
    expect(store.get(id)?.principal).toEqual(desk);
    now = 1000;
    expect(store.get(id)).toBeUndefined();
    const again = store.create(desk);
    store.delete(again.id);
    expect(store.get(again.id)).toBeUndefined();
  });

  it('keeps a bounded number of sessions, dropping the oldest', () => {
    const store = new ConsoleSessionStore(() => 0, 1000, 2);
    const first = store.create(desk);
    store.create(desk);
    store.create(desk);
    expect(store.size).toBe(2);
    expect(store.get(first.id)).toBeUndefined();
  });

  it('checks the CSRF token exactly', () => {
    const { session } = new ConsoleSessionStore().create(desk);
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, `${session.csrf}x`)).toBe(false);
    expect(csrfMatches(session, session.csrf.slice(1))).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
  });
});
