import type { ExecutionContext } from '@nestjs/common';
import { Metadata } from '@grpc/grpc-js';

/** The call of a gRPC handler: unary and server-streaming handlers get (request, metadata, call). */
interface ServerCall {
  metadata?: Metadata;
  sendMetadata?: (metadata: Metadata) => void;
}

/** The request metadata of a gRPC handler's call, whatever the call's kind. */
export function callMetadata(context: ExecutionContext): Metadata | undefined {
  const args = context.getArgs<unknown[]>();
  // Stream calls get (call) alone, with the metadata on it.
  return args.find(isMetadata) ?? (args[0] as ServerCall | undefined)?.metadata;
}

/** One text value of the request metadata, if the client sent it. */
export function metadataValue(context: ExecutionContext, key: string): string | undefined {
  const value = callMetadata(context)?.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Sends response headers on the handler's call; false when the call takes none here. */
export function sendResponseMetadata(
  context: ExecutionContext,
  values: Record<string, string>,
): boolean {
  const call = context
    .getArgs<unknown[]>()
    .find(
      (arg): arg is Required<Pick<ServerCall, 'sendMetadata'>> =>
        typeof (arg as ServerCall | undefined)?.sendMetadata === 'function',
    );
  if (!call) return false;
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(values)) metadata.set(key, value);
  call.sendMetadata(metadata);
  return true;
}

function isMetadata(value: unknown): value is Metadata {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Metadata).get === 'function' &&
    typeof (value as Metadata).getMap === 'function'
  );
}
