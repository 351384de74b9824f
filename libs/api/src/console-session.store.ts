import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiPrincipal } from './api-token.registry';

export interface ConsoleSession {
  principal: ApiPrincipal;
  /** Sent back on every write in `x-vigil-csrf`: a page on another site cannot read it. */
  csrf: string;
  expiresAt: number;
}

export const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 10_000;

/**
 * Console sign-ins, in memory: a session id (the HttpOnly cookie) stands for the token the
 * operator typed, so the token itself never sits in the browser. A restart signs everyone out,
 * which is what a changed token list needs anyway. Bounded: the oldest session goes first.
 */
export class ConsoleSessionStore {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly max = MAX_SESSIONS,
  ) {}

  create(principal: ApiPrincipal): { id: string; session: ConsoleSession } {
    const id = randomBytes(32).toString('base64url');
    const session = {
      principal,
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: this.now() + this.ttlMs,
    };
    this.sessions.set(id, session);
    for (const [old] of this.sessions) {
      if (this.sessions.size <= this.max) break;
      this.sessions.delete(old);
    }
    return { id, session };
  }

  get(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (session && session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: ConsoleSession, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
