import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/** A stack trace as Nest passes it to error(): `Error: …\n    at …`. */
const STACK = /\n\s+at /;

/**
 * Nest's LoggerService on pino, so every `new Logger(Context)` in the code base and Nest's own
 * lines go through the same JSON (or terminal) output. Nest passes the context as the last
 * string argument, and error()'s stack before it. Not nestjs-pino: that module is built around
 * HTTP request logging (pino-http), and these apps serve Kafka and gRPC.
 */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal',
    message: unknown,
    params: unknown[],
  ): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string'
        ? (rest.pop() as string)
        : undefined;
    const fields: Record<string, unknown> = context ? { context } : {};
    // error(message, stack, context): the stack is a string before the context.
    const stack = rest.find((p): p is string => typeof p === 'string' && STACK.test(p));
    if (stack) fields.err = { stack };
    else if (level === 'error' && context && STACK.test(context)) {
      // error(message, stack) without a context: Nest's ConsoleLogger reads it so too.
      delete fields.context;
      fields.err = { stack: context };
    }
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
