import type { EventEmitter } from 'node:events';

/**
 * An AbortSignal that fires when the client goes away or its deadline passes: grpc-js emits
 * 'cancelled' on the call for both, and work done for a caller who left is waste.
 */
export function callSignal(call: EventEmitter & { cancelled?: boolean }): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const abort = () => controller.abort(new Error('call cancelled'));
  if (call.cancelled) abort();
  call.on('cancelled', abort);
  return {
    signal: controller.signal,
    dispose: () => {
      call.off('cancelled', abort);
      abort();
    },
  };
}
