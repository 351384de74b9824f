/** Why a media operation failed, stable enough for callers to branch on (status events, retries). */
export enum MediaErrorCode {
  /** No usable ffmpeg binary: the message says how to install one. */
  FFMPEG_NOT_FOUND = 'FFMPEG_NOT_FOUND',
  /** A local path that does not exist, or a remote resource the server says is not there. */
  SOURCE_NOT_FOUND = 'SOURCE_NOT_FOUND',
  /** The source, or something it points at (playlist entry, concat item), uses a forbidden protocol. */
  PROTOCOL_NOT_ALLOWED = 'PROTOCOL_NOT_ALLOWED',
  /** Readable, but not media we can decode: empty, not a media file, unknown codec, or lacking the streams asked for. */
  UNSUPPORTED_INPUT = 'UNSUPPORTED_INPUT',
  /** Network failure: refused, timed out, name not resolved, server error, access denied. */
  SOURCE_UNREACHABLE = 'SOURCE_UNREACHABLE',
  /** ffmpeg failed for a reason none of the other codes describe. */
  DECODE_FAILED = 'DECODE_FAILED',
  /** No media data arrived for too long although nobody was holding ffmpeg back. */
  STALLED = 'STALLED',
  /** The caller's AbortSignal fired. */
  ABORTED = 'ABORTED',
}

/**
 * A media failure with a one-line, human-readable message that is safe to log or show
 * (source addresses are redacted). `stderrTail` keeps ffmpeg's last log lines for diagnosis.
 */
export class MediaError extends Error {
  constructor(
    readonly code: MediaErrorCode,
    message: string,
    readonly stderrTail: readonly string[] = [],
  ) {
    super(message);
    this.name = 'MediaError';
  }

  /** The usual shape: what happened, to which (redacted) source, and why. */
  static about(
    code: MediaErrorCode,
    label: string,
    detail: string,
    stderrTail: readonly string[] = [],
  ): MediaError {
    return new MediaError(code, mediaErrorMessage(code, label, detail), stderrTail);
  }
}

export function mediaErrorMessage(code: MediaErrorCode, label: string, detail: string): string {
  switch (code) {
    case MediaErrorCode.FFMPEG_NOT_FOUND:
      return `ffmpeg not usable for ${label}: ${detail}`;
    case MediaErrorCode.SOURCE_NOT_FOUND:
      return `Source not found: ${label} (${detail})`;
    case MediaErrorCode.PROTOCOL_NOT_ALLOWED:
      return `Protocol not allowed for ${label}: ${detail}`;
    case MediaErrorCode.UNSUPPORTED_INPUT:
      return `Unsupported input ${label}: ${detail}`;
    case MediaErrorCode.SOURCE_UNREACHABLE:
      return `Source unreachable: ${label} (${detail})`;
    case MediaErrorCode.DECODE_FAILED:
      return `Decoding failed for ${label}: ${detail}`;
    case MediaErrorCode.STALLED:
      return `Source stalled: ${label}: ${detail}`;
    case MediaErrorCode.ABORTED:
      return `Decoding aborted: ${label}: ${detail}`;
  }
}

export function isMediaError(value: unknown, code?: MediaErrorCode): value is MediaError {
  return value instanceof MediaError && (code === undefined || value.code === code);
}
