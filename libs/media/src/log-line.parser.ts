export type LogLevel =
  'panic' | 'fatal' | 'error' | 'warning' | 'info' | 'verbose' | 'debug' | 'trace';

export interface LogLine {
  level: LogLevel;
  /** The component that logged it ("mov,mp4,m4a,3gp,3g2,mj2", "tcp", "hls"); absent for ffmpeg's own lines. */
  component?: string;
  /** The message, with its original indentation. */
  text: string;
}

/** One level-tag per line because we run ffmpeg with `-loglevel level+info`. */
const TAGGED =
  /^((?:\[[^\]]*? @ 0x[0-9a-f]+\] )*)\[(panic|fatal|error|warning|info|verbose|debug|trace)\] (.*)$/;
const COMPONENT = /\[([^\]]*?) @ 0x[0-9a-f]+\]/g;

/**
 * Splits an ffmpeg stderr line into level, component and text. A line without a level tag is the
 * continuation of a multi-line message (or an ffmpeg without level tags) and takes `previous`.
 */
export function parseLogLine(line: string, previous: LogLevel = 'info'): LogLine {
  const tagged = TAGGED.exec(line);
  if (!tagged) return { level: previous, text: line };
  const [, contexts, level, text] = tagged;
  // Nested contexts ("[swscaler @ 0x1] [swscaler @ 0x2]") name the innermost last.
  const components = [...contexts.matchAll(COMPONENT)].map((m) => m[1]);
  const component = components[components.length - 1];
  return { level: level as LogLevel, ...(component !== undefined && { component }), text };
}

export function isProblem(level: LogLevel): boolean {
  return level === 'warning' || level === 'error' || level === 'fatal' || level === 'panic';
}
