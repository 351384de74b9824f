import { randomUUID } from 'node:crypto';
import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { CORRELATION_HEADER } from '@app/bus';
import { withLogContext } from '@app/logging';
import { Observable } from 'rxjs';
import { metadataValue, sendResponseMetadata } from './call.metadata';

/** What a client may send as its own id: a trace or request id, never free text for the logs. */
const CLIENT_ID = /^[\w.:/@-]{1,128}$/;

/**
 * Every gRPC call runs with a correlation id: the client's `x-correlation-id` when it sent a
 * usable one, else a fresh one. Every line logged for the call carries it, and so does the work
 * the call starts: a stream run in this process inherits the context, and a stream command on
 * Kafka carries it as a header to the ingest that acts on it. It goes back to the client in the
 * response headers, so an operator can quote it.
 */
@Injectable()
export class CallContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const sent = metadataValue(context, CORRELATION_HEADER);
    const correlationId = sent && CLIENT_ID.test(sent) ? sent : randomUUID();
    sendResponseMetadata(context, { [CORRELATION_HEADER]: correlationId });
    // Subscribing runs the handler: the context has to be there when that happens, not now.
    return new Observable((subscriber) =>
      withLogContext({ correlationId }, () => next.handle().subscribe(subscriber)),
    );
  }
}
