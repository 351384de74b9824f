import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { LogLevel as VigilLogLevel } from '@app/config';

const LEVELS: Record<VigilLogLevel, LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  log: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** Every log line goes to stderr: stdout belongs to the report (and to `--json` consumers). */
export class StderrLogger extends ConsoleLogger {
  constructor(level: VigilLogLevel) {
    super('vigil', { logLevels: LEVELS[level] });
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr');
  }
}
