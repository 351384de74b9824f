import { once } from 'node:events';
import { Controller, Inject, UseFilters, UseGuards } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { EvidenceStore } from '@app/evidence';
import { EventRepository, type StoredEvent, matchesEventFilter } from '@app/history';
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

type EventRecordMessage = ReturnType<typeof grpcEventRecord>;
/** One message object per event, shared by every subscriber the feed wakes for it. */
const records = new WeakMap<StoredEvent, EventRecordMessage>();
function recordOf(stored: StoredEvent): EventRecordMessage {
  let record = records.get(stored);
  if (!record) records.set(stored, (record = grpcEventRecord(stored)));
  return record;
}

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
    return new Observable<EventRecordMessage>((subscriber) => {
      const { signal, dispose } = callSignal(call);
      const send = async (stored: StoredEvent) => {
        subscriber.next(recordOf(stored));
        cursor = stored.seq;
        if (call.writableNeedDrain) await drained(call, signal);
      };
      const pump = async () => {
        while (!signal.aborted) {
          // Catching up: read the history by cursor. The high-water mark is read before the
          // query, so anything stored later wakes us below.
          const latest = this.events.latestSeq();
          const batch: StoredEvent[] = this.events.after(cursor, filter, RESUME_BATCH);
          for (const stored of batch) {
            if (signal.aborted) return;
            await send(stored);
          }
          if (batch.length === RESUME_BATCH) continue;
          cursor = Math.max(cursor, latest);
          // Caught up: follow the feed while events come one after another, reading nothing;
          // after a gap (a burst, a slow connection) go back to the history.
          for (;;) {
            await this.signal.waitForSeqAfter(cursor, signal);
            if (signal.aborted) return;
            const next = this.signal.nextAfter(cursor);
            if (!next) break;
            if (matchesEventFilter(next.event, filter)) await send(next);
            else cursor = next.seq;
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
