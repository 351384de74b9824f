import { Controller, Inject, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { EvidenceStore } from '@app/evidence';
import { EventRepository, HistoryError } from '@app/history';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { ApiError, ApiErrorCode } from './api.error';
import { EventStreamer } from './event.streamer';
import { CallContextInterceptor } from './call-context.interceptor';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { grpcEventRecord } from './grpc.mappers';
import { eventFilter, eventId, pageSize, timeBound } from './request.parsers';

const SERVICE = 'EventService';
export const EVIDENCE_STORE = Symbol('EVIDENCE_STORE');
/** Evidence goes out in chunks well under any message limit. */
const EVIDENCE_CHUNK_BYTES = 64 * 1024;

interface SubscribeRequest {
  filter?: Parameters<typeof eventFilter>[0];
  afterEventId?: string;
}

/** vigil.v1.EventService: validation here; Subscribe's delivery in EventStreamer. */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@UseInterceptors(CallContextInterceptor)
@RequireRole('viewer')
export class EventController {
  constructor(
    private readonly events: EventRepository,
    private readonly streamer: EventStreamer,
    @Inject(EVIDENCE_STORE) private readonly evidence: Pick<EvidenceStore, 'get'>,
  ) {}

  @GrpcMethod(SERVICE, 'Subscribe')
  subscribe(
    request: SubscribeRequest,
    _metadata: unknown,
    call: ServerWritableStream<unknown, unknown>,
  ) {
    const filter = eventFilter(request.filter);
    const after = request.afterEventId
      ? eventId(request.afterEventId, 'after_event_id')
      : undefined;
    return this.streamer.subscribe(filter, after, call);
  }

  @GrpcMethod(SERVICE, 'ListEvents')
  async listEvents(request: {
    filter?: Parameters<typeof eventFilter>[0];
    fromMs?: number;
    toMs?: number;
    pageSize?: number;
    pageToken?: string;
    oldestFirst?: boolean;
  }) {
    const page = await asProtoFields(() =>
      this.events.list({
        ...eventFilter(request.filter),
        from: timeBound(request.fromMs, 'from_ms'),
        to: timeBound(request.toMs, 'to_ms'),
        pageSize: pageSize(request.pageSize),
        pageToken: request.pageToken || undefined,
        order: request.oldestFirst ? 'oldest-first' : 'newest-first',
      }),
    );
    return { events: page.events.map(grpcEventRecord), nextPageToken: page.nextPageToken ?? '' };
  }

  @GrpcMethod(SERVICE, 'GetEvent')
  async getEvent(request: { eventId?: string }) {
    const id = eventId(request.eventId);
    const stored = await this.events.get(id);
    if (!stored) throw ApiError.notFound(`event ${id}`);
    return grpcEventRecord(stored);
  }

  @GrpcMethod(SERVICE, 'GetEvidence')
  async getEvidence(request: { eventId?: string; name?: string }) {
    const id = eventId(request.eventId);
    const stored = await this.events.get(id);
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

/** The history names fields as its TypeScript does; clients know the .proto's names. */
const PROTO_FIELDS: Readonly<Record<string, string>> = {
  pageToken: 'page_token',
  pageSize: 'page_size',
  from: 'from_ms',
  to: 'to_ms',
  streamIds: 'filter.stream_ids',
  classes: 'filter.classes',
  minSeverity: 'filter.min_severity',
  sites: 'filter.sites',
  zones: 'filter.zones',
};

async function asProtoFields<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof HistoryError) || error.code !== 'invalid-argument') throw error;
    const field = PROTO_FIELDS[error.field] ?? error.field;
    // Other fields a message names (`to`) are spelled as the .proto spells them too.
    const problem = error.message
      .slice(error.field.length + 2)
      .replace(/`(\w+)`/g, (_, name: string) => PROTO_FIELDS[name] ?? name);
    throw ApiError.invalid(field, problem);
  }
}
