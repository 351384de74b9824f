import { AsyncLocalStorage } from 'node:async_hooks';

/** What a log line says about the work it was written for, where that is known. */
export interface LogContext {
  streamId?: string;
  /** Ties the lines of one request or message together (x-correlation-id, a command id). */
  correlationId?: string;
  incidentId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

/**
 * Runs `fn` with these fields on every line logged inside it, across awaits and timers it
 * starts; fields of an enclosing context are kept unless given again. Empty values are dropped.
 */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  const merged: LogContext = { ...storage.getStore() };
  for (const key of ['streamId', 'correlationId', 'incidentId'] as const) {
    if (fields[key]) merged[key] = fields[key];
  }
  return storage.run(merged, fn);
}

/** The fields of the work running now; empty outside any. */
export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}
