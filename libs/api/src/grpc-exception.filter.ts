import { type ArgumentsHost, Catch, type RpcExceptionFilter, Logger } from '@nestjs/common';
import { type Observable, throwError } from 'rxjs';
import { ApiErrorCode } from './api.error';
import { toApiError, toGrpcError } from './grpc-status.mapper';

/**
 * Every error a gRPC handler or guard throws becomes a status with a message meant for the
 * client. Unexpected errors are logged here with their stack and reach the client as a bare
 * INTERNAL.
 */
@Catch()
export class GrpcExceptionFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger('GrpcApi');

  catch(error: unknown, _host: ArgumentsHost): Observable<never> {
    const api = toApiError(error);
    if (api.code === ApiErrorCode.INTERNAL) {
      this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    }
    return throwError(() => toGrpcError(api));
  }
}
