/**
 * What a caller did wrong, in terms a gRPC layer maps without parsing messages:
 * `invalid-argument` → INVALID_ARGUMENT and `not-found` → NOT_FOUND, with the field named.
 */
export type HistoryErrorCode = 'invalid-argument' | 'not-found';

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
