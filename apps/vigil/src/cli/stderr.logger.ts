import type { LogLevel } from '@app/config';
import { PinoNestLogger, createLogger } from '@app/logging';

/**
 * The CLI's diagnostic logs (Nest's and every `new Logger(…)`), through pino on stderr: stdout
 * belongs to the report (and to `--json` consumers). Readable lines on a terminal, JSON lines
 * otherwise (`vigil serve` under a supervisor). The report, `--json` lines and the progress
 * bar are output, not logs, and do not pass here.
 */
export class StderrLogger extends PinoNestLogger {
  constructor(level: LogLevel) {
    super(createLogger({ app: 'vigil', level, fd: 2 }));
  }
}
