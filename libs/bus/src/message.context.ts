import { type LogContext, withLogContext } from '@app/logging';
import type { BusMessage } from './bus.interface';

export const CORRELATION_HEADER = 'x-correlation-id';

/**
 * What a handler logs carries the message's stream (Vigil keys every topic by stream id) and
 * its correlation id; a message without one (a stream command) is named by where it is.
 */
export function messageLogContext(
  message: Omit<BusMessage<unknown>, 'hold' | 'value'>,
): LogContext {
  return {
    streamId: message.key || undefined,
    correlationId:
      message.headers[CORRELATION_HEADER] ||
      `${message.topic}/${message.partition}@${message.offset}`,
  };
}

/** Runs a message's handler inside its log context. */
export function handleInContext<T>(
  message: Omit<BusMessage<unknown>, 'hold' | 'value'>,
  handle: () => T,
): T {
  return withLogContext(messageLogContext(message), handle);
}
