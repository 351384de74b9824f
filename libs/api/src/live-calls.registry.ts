import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ApiError, ApiErrorCode } from './api.error';

/**
 * The calls that would otherwise never end (Subscribe, an upload in progress). grpc-js's
 * graceful shutdown waits for every open call, so these are ended first, with UNAVAILABLE,
 * which clients treat as "reconnect" (a Subscribe resumes with after_event_id).
 */
@Injectable()
export class LiveCalls implements OnModuleDestroy {
  private readonly ends = new Set<(error: ApiError) => void>();
  private closing = false;

  /** Registers a call's way to end; returns its unregistration. Refused once closing began. */
  track(end: (error: ApiError) => void): () => void {
    if (this.closing) throw shuttingDown();
    this.ends.add(end);
    return () => void this.ends.delete(end);
  }

  get size(): number {
    return this.ends.size;
  }

  closeAll(): void {
    this.closing = true;
    for (const end of [...this.ends]) end(shuttingDown());
    this.ends.clear();
  }

  /** Nest runs this before it closes the gRPC server when a signal stops the app. */
  onModuleDestroy(): void {
    this.closeAll();
  }
}

function shuttingDown(): ApiError {
  return new ApiError(ApiErrorCode.UNAVAILABLE, 'the server is shutting down; reconnect');
}
