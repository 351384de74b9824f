import { once } from 'node:events';
import { Controller, Inject, UseFilters, UseGuards } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { EvidenceStore } from '@app/evidence';
import { EventRepository, type StoredEvent } from '@app/history';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { ApiError, ApiErrorCode } from './api.error';
import { EventSignal } from './api.ports';
import { callSignal } from './call.signal';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { grpcEventRecord } from './grpc.mappers';
import { eventFilter, eventId, timeBound } from './request.parsers';

const SERVICE = 'EventService';
export const EVIDENCE_STORE = Symbol('EVIDENCE_STORE');
/** Evidence goes out in chunks well under any message limit. */
const EVIDENCE_CHUNK_BYTES = 64 * 1024;
const RESUME_BATCH = 100;

interface SubscribeRequest {
  filter?: Parameters<typeof eventFilter>[0];
  afterEventId?: string;
}

/**
 * vigil.v1.EventService. Subscribe reads the history by cursor and only waits on EventSignal
 * when it has caught up, so a reconnecting client gets exactly what it missed, a slow client
 * holds no queue in memory (it is simply further behind in the table), and writes stop while
 * the client's connection is full.
 */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@RequireRole('viewer')
export class EventController {
  constructor(
    private readonly events: EventRepository,
    private readonly signal: EventSignal,
    @Inject(EVIDENCE_STORE) private readonly evidence: Pick<EvidenceStore, 'get'>,
  ) {}

  @GrpcMethod(SERVICE, 'Subscribe')
  subscribe(
    request: SubscribeRequest,
    _metadata: unknown,
    call: ServerWritableStream<unknown, unknown>,
  ) {
    const filter = eventFilter(request.filter);
    let cursor: number;
    if (request.afterEventId) {
      const id = eventId(request.afterEventId, 'after_event_id');
      const from = this.events.get(id);
      if (!from) {
        throw new ApiError(
          ApiErrorCode.NOT_FOUND,
          `after_event_id: event ${id} not found (never stored, or removed by retention)`,
          'after_event_id',
        );
      }
      cursor = from.seq;
    } else {
      cursor = this.events.latestSeq();
    }
    return new Observable<ReturnType<typeof grpcEventRecord>>((subscriber) => {
      const { signal, dispose } = callSignal(call);
      const pump = async () => {
        while (!signal.aborted) {
          // Read the high-water mark before the query: anything stored later wakes us below.
          const latest = this.events.latestSeq();
          const batch: StoredEvent[] = this.events.after(cursor, filter, RESUME_BATCH);
          for (const stored of batch) {
            if (signal.aborted) return;
            subscriber.next(grpcEventRecord(stored));
            cursor = stored.seq;
            if (call.writableNeedDrain) await drained(call, signal);
          }
          if (batch.length < RESUME_BATCH) {
            cursor = Math.max(cursor, latest);
            await this.signal.waitForSeqAfter(cursor, signal);
          }
        }
      };
      pump().then(
        () => subscriber.complete(),
        (error: unknown) => subscriber.error(error),
      );
      return dispose;
    });
  }

  @GrpcMethod(SERVICE, 'ListEvents')
  listEvents(request: {
    filter?: Parameters<typeof eventFilter>[0];
    fromMs?: number;
    toMs?: number;
    pageSize?: number;
    pageToken?: string;
    oldestFirst?: boolean;
  }) {
    const page = this.events.list({
      ...eventFilter(request.filter),
      from: timeBound(request.fromMs, 'from_ms'),
      to: timeBound(request.toMs, 'to_ms'),
      pageSize: request.pageSize || undefined,
      pageToken: request.pageToken || undefined,
      order: request.oldestFirst ? 'oldest-first' : 'newest-first',
    });
    return { events: page.events.map(grpcEventRecord), nextPageToken: page.nextPageToken ?? '' };
  }

  @GrpcMethod(SERVICE, 'GetEvent')
  getEvent(request: { eventId?: string }) {
    const id = eventId(request.eventId);
    const stored = this.events.get(id);
    if (!stored) throw ApiError.notFound(`event ${id}`);
    return grpcEventRecord(stored);
  }

  @GrpcMethod(SERVICE, 'GetEvidence')
  async getEvidence(request: { eventId?: string; name?: string }) {
    const id = eventId(request.eventId);
    const stored = this.events.get(id);
    if (!stored) throw ApiError.notFound(`event ${id}`);
    const ref = stored.evidenceRefs.find((r) => r.name === request.name);
    if (!ref) {
      const names = stored.evidenceRefs.map((r) => r.name).join(', ') || 'none';
      throw new ApiError(
        ApiErrorCode.NOT_FOUND,
        `name: event ${id} has no evidence "${request.name ?? ''}" (has: ${names})`,
        'name',
      );
    }
    const { bytes, contentType } = await this.evidence.get(ref.key);
    return new Observable((subscriber) => {
      for (let offset = 0; offset < bytes.length || offset === 0; offset += EVIDENCE_CHUNK_BYTES) {
        const data = Buffer.from(
          bytes.buffer,
          bytes.byteOffset + offset,
          Math.min(EVIDENCE_CHUNK_BYTES, bytes.length - offset),
        );
        subscriber.next(
          offset === 0
            ? { contentType, totalBytes: bytes.length, sha256: ref.sha256, data }
            : { data },
        );
        if (bytes.length === 0) break;
      }
      subscriber.complete();
    });
  }
}

function drained(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return once(call, 'drain', { signal }).then(
    () => undefined,
    () => undefined,
  );
}
