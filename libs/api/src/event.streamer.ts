import { once } from 'node:events';
import { Injectable } from '@nestjs/common';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import {
  EventRepository,
  type EventFilter,
  type StoredEvent,
  matchesEventFilter,
} from '@app/history';
import { ApiError, ApiErrorCode } from './api.error';
import { EventSignal } from './api.ports';
import { callSignal } from './call.signal';
import { grpcEventRecord } from './grpc.mappers';
import { LiveCalls } from './live-calls.registry';

const RESUME_BATCH = 100;

export type EventRecordMessage = ReturnType<typeof grpcEventRecord>;

/** One message object per event, shared by every subscriber the feed wakes for it. */
const records = new WeakMap<StoredEvent, EventRecordMessage>();
function recordOf(stored: StoredEvent): EventRecordMessage {
  let record = records.get(stored);
  if (!record) records.set(stored, (record = grpcEventRecord(stored)));
  return record;
}

/**
 * Subscribe's delivery. It reads the history by cursor and only waits on the signal once
 * caught up, so a reconnecting client gets exactly what it missed, a slow client holds no queue
 * in memory (it is simply further behind in the table), and reading stops while the client's
 * connection is full. Caught up, it follows the feed without reading while events come one
 * after another; after any gap it reads the history again.
 */
@Injectable()
export class EventStreamer {
  constructor(
    private readonly events: EventRepository,
    private readonly signal: EventSignal,
    private readonly calls: LiveCalls,
  ) {}

  /**
   * NOT_FOUND when `afterEventId` is not stored (never was, or retention removed it): the call
   * fails before any record, as a thrown error the transport maps.
   */
  async subscribe(
    filter: EventFilter,
    afterEventId: string | undefined,
    call: ServerWritableStream<unknown, unknown>,
  ): Promise<Observable<EventRecordMessage>> {
    let cursor = await this.startingCursor(afterEventId);
    return new Observable<EventRecordMessage>((subscriber) => {
      const { signal, dispose } = callSignal(call);
      const untrack = this.calls.track((error) => {
        dispose();
        subscriber.error(error);
      });
      const send = async (stored: StoredEvent) => {
        subscriber.next(recordOf(stored));
        cursor = stored.seq;
        if (call.writableNeedDrain) await drained(call, signal);
      };
      const pump = async () => {
        while (!signal.aborted) {
          // The high-water mark is read before the query, so anything stored later wakes us.
          const latest = await this.events.latestSeq();
          const batch = await this.events.after(cursor, filter, RESUME_BATCH);
          for (const stored of batch) {
            if (signal.aborted) return;
            await send(stored);
          }
          if (batch.length === RESUME_BATCH) continue;
          cursor = Math.max(cursor, latest);
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
      return () => {
        untrack();
        dispose();
      };
    });
  }

  private async startingCursor(afterEventId: string | undefined): Promise<number> {
    if (!afterEventId) return this.events.latestSeq();
    const from = await this.events.get(afterEventId);
    if (!from) {
      throw new ApiError(
        ApiErrorCode.NOT_FOUND,
        `after_event_id: event ${afterEventId} not found (never stored, or removed by ` +
          'retention); resume from ListEvents, or subscribe without it',
        'after_event_id',
      );
    }
    return from.seq;
  }
}

function drained(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return once(call, 'drain', { signal }).then(
    () => undefined,
    () => undefined,
  );
}
