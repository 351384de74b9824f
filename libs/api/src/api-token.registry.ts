import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError, ApiErrorCode } from './api.error';
import type { ApiRole } from './api-role';

export interface ApiToken {
  /** Shown in logs instead of the token. */
  name: string;
  role: ApiRole;
  token: string;
}

export interface ApiPrincipal {
  name: string;
  role: ApiRole;
}

/**
 * Bearer tokens from the config. Tokens are compared as SHA-256 digests in constant time, so
 * neither their length nor a prefix leaks through timing.
 */
export class ApiTokenRegistry {
  private readonly digests: { digest: Buffer; principal: ApiPrincipal }[];

  constructor(tokens: readonly ApiToken[]) {
    this.digests = tokens.map((t) => ({
      digest: sha256(t.token),
      principal: { name: t.name, role: t.role },
    }));
  }

  /** No tokens configured: the API is open (the server warns about it at start). */
  get open(): boolean {
    return this.digests.length === 0;
  }

  /** The caller behind an `authorization` metadata value; throws UNAUTHENTICATED. */
  authenticate(authorization: string | undefined): ApiPrincipal {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      throw new ApiError(
        ApiErrorCode.UNAUTHENTICATED,
        authorization ? 'authorization must be "Bearer <token>"' : 'missing bearer token',
      );
    }
    const digest = sha256(match[1]);
    // Every entry is compared, so the time taken does not depend on which one matched.
    let found: ApiPrincipal | undefined;
    for (const entry of this.digests) {
      if (timingSafeEqual(entry.digest, digest)) found ??= entry.principal;
    }
    if (!found) throw new ApiError(ApiErrorCode.UNAUTHENTICATED, 'unknown bearer token');
    return found;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
