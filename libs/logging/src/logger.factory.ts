import type { LogLevel } from '@app/config';
import pino, { type DestinationStream, type Logger } from 'pino';
import { currentLogContext } from './log.context';
import { PINO_LEVEL } from './log.levels';
import { REDACTED_PATHS, redactText, redactValues } from './log.redactor';
import { PrettyStream } from './pretty.stream';

export interface LoggerOptions {
  /** `vigil-ingest`, `vigil`: which program wrote the line. */
  app: string;
  level: LogLevel;
  /** 1 (stdout, the services) or 2 (stderr, the CLI: its stdout is the report). */
  fd: 1 | 2;
  /** Fields on every line (the replica's instance id). */
  base?: Record<string, string>;
  /** Readable lines instead of JSON; defaults to whether `fd` is a terminal. */
  pretty?: boolean;
  /** Where lines go instead of `fd` (tests). */
  destination?: DestinationStream;
}

/**
 * Vigil's logger: JSON lines (pino) when the output is not a terminal, readable lines when it
 * is. Every line carries the context of the work it was written in (stream, correlation and
 * incident ids, see withLogContext), and nothing secret: credential fields are censored by
 * path, URL credentials, bearer tokens and `secret=` values by pattern in the message and in
 * every string field.
 */
export function createLogger(options: LoggerOptions): Logger {
  const tty = options.fd === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  const pretty = options.pretty ?? tty === true;
  // Through process.stdout/stderr, looked up at each write, not a file descriptor of pino's
  // own: their writes are synchronous to files, terminals and (on Linux) pipes, so a line logged
  // just before process.exit is not lost, and whoever captures the process's output (the CLI's
  // tests) captures the logs too. Logs are few (no per-frame lines).
  const out = {
    write: (text: string) => (options.fd === 1 ? process.stdout : process.stderr).write(text),
  };
  const destination = options.destination ?? (pretty ? new PrettyStream(out, tty === true) : out);
  return pino(
    {
      level: PINO_LEVEL[options.level],
      base: { app: options.app, pid: process.pid, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: [...REDACTED_PATHS], censor: '***' },
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => redactValues(record) as Record<string, unknown>,
      },
      mixin: () => ({ ...currentLogContext() }),
      hooks: {
        // The message (and printf-style arguments) may quote a URL or a header.
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          // pino.error(error): pino would take the message from the error itself.
          const leading =
            first instanceof Error
              ? [{ err: first }, rest.length > 0 ? rest.shift() : first.message]
              : [first];
          method.apply(
            this,
            [...leading, ...rest].map((arg) =>
              typeof arg === 'string' ? redactText(arg) : arg,
            ) as Parameters<typeof method>,
          );
        },
      },
    },
    destination,
  );
}
