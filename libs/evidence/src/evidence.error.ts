/** Why an evidence operation failed, stable enough for callers to branch on. */
export enum EvidenceErrorCode {
  /** An event id, artifact name or key that could escape the store or is not ours. */
  INVALID_KEY = 'INVALID_KEY',
  NOT_FOUND = 'NOT_FOUND',
  /** Input that cannot become an artifact: empty window, size mismatch, bad sample rate. */
  INVALID_INPUT = 'INVALID_INPUT',
  /** ffmpeg failed, timed out or produced more than we are willing to hold. */
  ENCODE_FAILED = 'ENCODE_FAILED',
}

/** One-line, loggable failure; `detail` keeps ffmpeg's last log lines where there are any. */
export class EvidenceError extends Error {
  constructor(
    readonly code: EvidenceErrorCode,
    message: string,
    readonly detail: readonly string[] = [],
  ) {
    super(message);
    this.name = 'EvidenceError';
  }
}
