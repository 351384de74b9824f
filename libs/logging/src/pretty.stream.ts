/**
 * pino writes JSON; on a terminal a person reads the lines instead. This turns one JSON line
 * into `12:00:01.250 WARN  [context] message  streamId=… key=value` (colours by level). It is
 * a plain stream in the logging process, not pino-pretty: no worker thread, no dependencies,
 * and nothing to get wrong for the machine-read (non-TTY) output, which never passes here.
 */
const LEVEL_NAMES: Record<string, string> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO ',
  warn: 'WARN ',
  error: 'ERROR',
  fatal: 'FATAL',
};
const COLOURS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[36m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[41m',
};
const RESET = '\x1b[0m';
/** Shown elsewhere in the line, or noise on a terminal. */
const HIDDEN = new Set([
  'level',
  'time',
  'msg',
  'context',
  'pid',
  'hostname',
  'app',
  'instanceId',
  'err',
]);

export function prettyLine(json: string, colour: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = String(record.level ?? 'info');
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const name = LEVEL_NAMES[level] ?? level.toUpperCase();
  const tag = colour ? `${COLOURS[level] ?? ''}${name}${RESET}` : name;
  const context = record.context ? `[${String(record.context)}] ` : '';
  const extras = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const err = record.err as { stack?: string; message?: string } | undefined;
  const stack = err ? `\n${err.stack ?? err.message ?? ''}` : '';
  return `${time} ${tag} ${context}${String(record.msg ?? '')}${extras.length > 0 ? `  ${extras.join(' ')}` : ''}${stack}\n`;
}

/** A pino destination that writes readable lines to `out` (a terminal). */
export class PrettyStream {
  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly colour: boolean,
  ) {}

  write(json: string): void {
    this.out.write(prettyLine(json, this.colour));
  }
}
