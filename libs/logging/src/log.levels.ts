import type { LogLevel } from '@app/config';
import type { Level } from 'pino';

/** VIGIL_LOG_LEVEL → pino's threshold: `log` is pino's info, `debug` lets Nest's verbose through too. */
export const PINO_LEVEL: Record<LogLevel, Level> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'trace',
};
