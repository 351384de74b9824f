import { EventEmitter } from 'node:events';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { lastValueFrom, type Observable, take, toArray } from 'rxjs';
import type { SecurityEvent } from '@app/contracts';
import type { EventRepository, StoredEvent } from '@app/history';
import { strictMock } from '@app/testing';
import { ApiError, ApiErrorCode } from './api.error';
import type { EventSignal } from './api.ports';
import { EventStreamer } from './event.streamer';
import { LiveCalls } from './live-calls.registry';

function stored(seq: number): StoredEvent {
  const event: SecurityEvent = {
    id: `e${seq}`,
    incidentId: `e${seq}`,
    version: 1,
    state: 'opened',
    streamId: 'cam-1',
    rule: 'gunshot',
    title: 'Gunshot',
    severity: 'critical',
    startSec: seq,
    endSec: seq + 0.5,
    trigger: 'gunshot',
    triggers: ['gunshot'],
    evidence: [{ cls: 'gunshot', modality: 'audio', score: 0.9, atSec: seq }],
  };
  return { seq, event, occurredAt: 1000 + seq, storedAt: 1000 + seq, evidenceRefs: [] };
}

class FakeCall extends EventEmitter {
  writableNeedDrain = false;
  cancelled = false;
}

/** A history of `count` events that grows when the test says so. */
function history(initial: number) {
  let rows = Array.from({ length: initial }, (_, i) => stored(i + 1));
  const repository = strictMock<EventRepository>('EventRepository', {
    get: async (id: string) => rows.find((r) => r.event.id === id),
    latestSeq: async () => rows.at(-1)?.seq ?? 0,
    after: (async (cursor: number, _filter: unknown, limit: number) =>
      rows.filter((r) => r.seq > cursor).slice(0, limit)) as EventRepository['after'],
  });
  return { repository, add: (seq: number) => (rows = [...rows, stored(seq)]) };
}

describe('EventStreamer (Subscribe)', () => {
  it('replays what came after the resume point, then waits for new events on the signal', async () => {
    const { repository, add } = history(3);
    const waits: number[] = [];
    const signal = strictMock<EventSignal>('EventSignal', {
      nextAfter: () => undefined,
      waitForSeqAfter: async (seq: number) => {
        waits.push(seq);
        if (waits.length === 1)
          add(4); // a new incident arrives while caught up
        else await new Promise(() => undefined);
      },
    });
    const streamer = new EventStreamer(repository, signal, new LiveCalls());
    const call = new FakeCall();
    const stream = (await streamer.subscribe(
      {},
      'e1',
      call as unknown as ServerWritableStream<unknown, unknown>,
    )) as Observable<{ event: { id: string } }>;
    const ids = await lastValueFrom(stream.pipe(take(3), toArray()));
    expect(ids.map((r) => r.event.id)).toEqual(['e2', 'e3', 'e4']);
    expect(waits[0]).toBe(3);
  });

  it('starts at the newest event without a resume point', async () => {
    const { repository, add } = history(5);
    const signal = strictMock<EventSignal>('EventSignal', {
      nextAfter: () => undefined,
      waitForSeqAfter: async () => void add(6),
    });
    const streamer = new EventStreamer(repository, signal, new LiveCalls());
    const stream = (await streamer.subscribe(
      {},
      undefined,
      new FakeCall() as never,
    )) as Observable<{
      event: { id: string };
    }>;
    const [first] = await lastValueFrom(stream.pipe(take(1), toArray()));
    expect(first!.event.id).toBe('e6');
  });

  it('follows the feed without reading the history while events come one after another', async () => {
    const { repository } = history(2);
    let reads = 0;
    const counted = strictMock<EventRepository>('EventRepository', {
      get: repository.get.bind(repository),
      latestSeq: async () => (reads++, repository.latestSeq()),
      after: (async (...args: Parameters<EventRepository['after']>) => (
        reads++,
        repository.after(...args)
      )) as never,
    });
    const live = [
      stored(3),
      { ...stored(4), event: { ...stored(4).event, streamId: 'cam-9' } },
      stored(5),
    ];
    let published = 2;
    const signal = strictMock<EventSignal>('EventSignal', {
      waitForSeqAfter: async () => void published++,
      nextAfter: (seq: number) => live.find((s) => s.seq === seq + 1 && s.seq <= published),
    });
    const streamer = new EventStreamer(counted, signal, new LiveCalls());
    const stream = (await streamer.subscribe(
      { streamIds: ['cam-1'] },
      undefined,
      new FakeCall() as never,
    )) as Observable<{ event: { id: string } }>;
    const ids = await lastValueFrom(stream.pipe(take(2), toArray()));
    // e4 is another camera's: skipped in memory with the same filter the history applies.
    expect(ids.map((r) => r.event.id)).toEqual(['e3', 'e5']);
    expect(reads).toBe(3); // where to start, then one catch-up read; none per live event
  });

  it('refuses an unknown resume point with NOT_FOUND naming the field', async () => {
    const { repository } = history(1);
    const streamer = new EventStreamer(repository, strictMock('EventSignal', {}), new LiveCalls());
    let error: unknown;
    try {
      await streamer.subscribe({}, 'gone', new FakeCall() as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: ApiErrorCode.NOT_FOUND, field: 'after_event_id' });
  });

  it('stops reading while the connection is full, and stops for good when the client leaves', async () => {
    const { repository } = history(250);
    const call = new FakeCall();
    const signal = strictMock<EventSignal>('EventSignal', {
      nextAfter: () => undefined,
      waitForSeqAfter: (_seq: number, abort: AbortSignal) =>
        new Promise<void>((resolve) => abort.addEventListener('abort', () => resolve())),
    });
    const streamer = new EventStreamer(repository, signal, new LiveCalls());
    const seen: string[] = [];
    call.writableNeedDrain = true;
    const subscription = (
      (await streamer.subscribe({}, 'e1', call as never)) as Observable<{
        event: { id: string };
      }>
    ).subscribe((record) => seen.push(record.event.id));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['e2']); // one written, then it waits for 'drain'
    call.writableNeedDrain = false;
    call.emit('drain');
    await new Promise((r) => setImmediate(r));
    expect(seen.length).toBe(249);
    call.cancelled = true;
    call.emit('cancelled');
    subscription.unsubscribe();
  });

  it('ends with UNAVAILABLE when the server shuts down, so clients reconnect elsewhere', async () => {
    const { repository } = history(1);
    const calls = new LiveCalls();
    const signal = strictMock<EventSignal>('EventSignal', {
      nextAfter: () => undefined,
      waitForSeqAfter: (_seq: number, abort: AbortSignal) =>
        new Promise<void>((resolve) => abort.addEventListener('abort', () => resolve())),
    });
    const streamer = new EventStreamer(repository, signal, calls);
    const ended = lastValueFrom(
      await streamer.subscribe({}, undefined, new FakeCall() as never),
    ).catch((error: unknown) => error);
    await new Promise((r) => setImmediate(r));
    expect(calls.size).toBe(1);
    calls.closeAll();
    expect(await ended).toMatchObject({ code: ApiErrorCode.UNAVAILABLE });
    expect(calls.size).toBe(0);
    const late = await lastValueFrom(
      await streamer.subscribe({}, undefined, new FakeCall() as never),
    ).catch((error: unknown) => error);
    expect(late).toMatchObject({ code: ApiErrorCode.UNAVAILABLE });
  });
});
