import { isProblem, parseLogLine, type LogLine } from './log-line.parser';
import { MediaError, MediaErrorCode } from './media.error';

export interface FfmpegFailure {
  /** Redacted source, as the message should name it. */
  label: string;
  /** Redacted `-i` argument: ffmpeg prefixes its errors with it, which the message need not repeat. */
  input?: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Redacted stderr lines, oldest first. */
  stderrTail: readonly string[];
}

interface Rule {
  code: MediaErrorCode;
  pattern: RegExp;
  /** Turns ffmpeg's words into something an operator can act on; `detail` is ffmpeg's line. */
  explain: (detail: string) => string;
}

const as = (what: string) => (detail: string) => `${what} (${detail})`;
const verbatim = (detail: string) => detail;

/** Most specific first: a refused playlist entry also ends in "Invalid data found". */
const RULES: readonly Rule[] = [
  {
    code: MediaErrorCode.PROTOCOL_NOT_ALLOWED,
    pattern:
      /not on whitelist|Protocol not found|allowed_segment_extensions|not a common multimedia extension|Unsafe file name/i,
    explain: as('the source or an address inside it uses a protocol that is not allowed'),
  },
  {
    code: MediaErrorCode.SOURCE_NOT_FOUND,
    pattern: /No such file or directory|\b404 Not Found|\b410 Gone/i,
    explain: verbatim,
  },
  {
    code: MediaErrorCode.SOURCE_UNREACHABLE,
    pattern:
      /Connection refused|timed out|Network is unreachable|No route to host|Failed to resolve hostname|Name or service not known|Temporary failure in name resolution|Connection reset by peer|Server returned [45]\d\d|method \w+ failed: [45]\d\d|\b401 Unauthorized|\b403 Forbidden/i,
    explain: verbatim,
  },
  {
    code: MediaErrorCode.UNSUPPORTED_INPUT,
    pattern: /moov atom not found/i,
    explain: as('not a media file ffmpeg can read, or cut before its index'),
  },
  {
    code: MediaErrorCode.UNSUPPORTED_INPUT,
    pattern: /does not contain any stream|matches no streams/i,
    explain: () => 'it contains no audio or video stream that can be decoded',
  },
  {
    code: MediaErrorCode.UNSUPPORTED_INPUT,
    pattern:
      /Decoder \(codec [^)]*\) not found|Unknown decoder|Could not find codec parameters|unsupported codec/i,
    explain: as('its codec cannot be decoded by this ffmpeg'),
  },
  {
    code: MediaErrorCode.UNSUPPORTED_INPUT,
    pattern:
      /Invalid data found when processing input|EBML header parsing failed|Unknown input format/i,
    explain: as('not a media file ffmpeg can read'),
  },
];

const NOT_ERRORS =
  /^(?:Press \[q\]|Stream mapping|frame=|size=|video:|Output #|Input #|Conversion failed|\s)/;

/** Turns a failed ffmpeg run into the MediaError a caller can branch on. */
export function mapFfmpegFailure(failure: FfmpegFailure): MediaError {
  const lines = parseAll(failure.stderrTail);
  const problems = lines.filter((line) => isProblem(line.level));
  for (const rule of RULES) {
    const hit =
      problems.find((line) => rule.pattern.test(line.text)) ??
      lines.find((line) => rule.pattern.test(line.text));
    if (hit) {
      return MediaError.about(
        rule.code,
        failure.label,
        rule.explain(clean(hit.text, failure.input)),
        failure.stderrTail,
      );
    }
  }
  const last = [...problems].reverse().find((line) => !NOT_ERRORS.test(line.text));
  const how = failure.signal
    ? `ffmpeg was killed by ${failure.signal}`
    : `ffmpeg exit code ${failure.code}`;
  const detail = last ? `${clean(last.text, failure.input)} (${how})` : how;
  return MediaError.about(MediaErrorCode.DECODE_FAILED, failure.label, detail, failure.stderrTail);
}

function parseAll(raw: readonly string[]): LogLine[] {
  const parsed: LogLine[] = [];
  let previous: LogLine['level'] = 'info';
  for (const line of raw) {
    const entry = parseLogLine(line, previous);
    previous = entry.level;
    parsed.push(entry);
  }
  return parsed;
}

function clean(text: string, input?: string): string {
  let detail = text.trim();
  if (input && detail.startsWith(`${input}: `)) detail = detail.slice(input.length + 2);
  return detail.replace(/[.!]+$/, '');
}
