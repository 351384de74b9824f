import { createHash } from 'node:crypto';
import { HistoryError } from './history.error';

/**
 * Keyset paging cursor: the seq of the last event served. It also carries a fingerprint of
 * the query it came from, because a token replayed with other filters or the other order would
 * silently skip or repeat events; that is refused instead. Opaque to clients (base64url).
 */
interface TokenBody {
  v: 1;
  seq: number;
  query: string;
}

export function encodePageToken(seq: number, queryFingerprint: string): string {
  const body: TokenBody = { v: 1, seq, query: queryFingerprint };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** The seq to continue after; a token that is malformed or from another query is an error. */
export function decodePageToken(token: string, queryFingerprint: string): number {
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenBody>;
  } catch {
    throw new HistoryError('invalid-argument', 'pageToken', 'is not a token this server issued');
  }
  if (
    body === null ||
    typeof body !== 'object' ||
    body.v !== 1 ||
    !Number.isSafeInteger(body.seq) ||
    (body.seq as number) < 0
  ) {
    throw new HistoryError('invalid-argument', 'pageToken', 'is not a token this server issued');
  }
  if (body.query !== queryFingerprint) {
    throw new HistoryError(
      'invalid-argument',
      'pageToken',
      'was issued for other filters or another order; repeat the query that gave it',
    );
  }
  return body.seq as number;
}

/** A short digest of a query in canonical form (sorted lists, no paging fields). */
export function fingerprint(canonicalQuery: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonicalQuery))
    .digest('base64url')
    .slice(0, 16);
}
