/**
 * What a caller did wrong, in terms a gRPC layer maps without parsing messages:
 * `invalid-argument` → INVALID_ARGUMENT, `not-found` → NOT_FOUND and `conflict` (the request
 * does not fit the record's state: an incident already resolved) → FAILED_PRECONDITION, with
 * the field named.
 */
export type HistoryErrorCode = 'invalid-argument' | 'not-found' | 'conflict';

export class HistoryError extends Error {
  constructor(
    readonly code: HistoryErrorCode,
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'HistoryError';
  }
}
