import { Inject, Injectable } from '@nestjs/common';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import { ApiError, ApiErrorCode } from './api.error';
import { ClipAnalyzer } from './api.ports';
import { callSignal } from './call.signal';
import { ClipUpload } from './clip.upload';
import { grpcDetectionSet, grpcEvent } from './grpc.mappers';
import { LiveCalls } from './live-calls.registry';
import { clipFps, rulesProfile } from './request.parsers';

export interface AnalysisLimits {
  maxClipBytes: number;
  maxConcurrent: number;
  /** An upload that sends nothing for this long is given up; default 60 s. */
  idleTimeoutMs?: number;
  /** Answers the client has not taken yet before the analysis is given up; default 10 000. */
  maxUnreadAnswers?: number;
}
export const ANALYSIS_LIMITS = Symbol('ANALYSIS_LIMITS');

export interface AnalyzeClipRequest {
  part?: 'header' | 'data';
  header?: { name?: string; fps?: number | null; rulesProfile?: string };
  data?: Uint8Array;
}

interface ClipJob {
  path: string;
  name: string;
  fps: number;
  rulesProfile: string;
}

type Call = ServerDuplexStream<unknown, unknown>;

/**
 * AnalyzeClip: receives the upload (header first, then bytes, spooled to disk with the call
 * paused while the file catches up), analyses it, and answers detections and incidents as
 * they are decided. Bounded everywhere: concurrent analyses, clip size, idle uploads, and
 * answers a client does not read.
 */
@Injectable()
export class ClipAnalysisService {
  private running = 0;

  constructor(
    private readonly analyzer: ClipAnalyzer,
    private readonly calls: LiveCalls,
    @Inject(ANALYSIS_LIMITS) private readonly limits: AnalysisLimits,
  ) {}

  analyze(messages: Observable<AnalyzeClipRequest>, call: Call): Observable<unknown> {
    return new Observable((subscriber) => {
      if (this.running >= this.limits.maxConcurrent) {
        subscriber.error(
          new ApiError(
            ApiErrorCode.RESOURCE_EXHAUSTED,
            `${this.running} clips are being analysed; try again later`,
          ),
        );
        return;
      }
      let release = (): void => undefined;
      // Refused (UNAVAILABLE) when the server is already shutting down: nothing to undo yet.
      const untrack = this.calls.track((error) => {
        subscriber.error(error);
        release();
      });
      this.running++;
      const { signal, dispose } = callSignal(call);
      const upload = new ClipUpload(this.limits.maxClipBytes);
      let released = false;
      release = () => {
        if (released) return;
        released = true;
        this.running--;
        untrack();
        dispose();
        void upload.dispose();
      };
      this.receive(messages, call, upload, signal)
        .then((job) => {
          if (signal.aborted) throw new ApiError(ApiErrorCode.CANCELLED, 'cancelled');
          return this.run(job, subscriber, call, signal, upload.bytes);
        })
        .then(
          () => subscriber.complete(),
          (error: unknown) => subscriber.error(error),
        )
        .finally(release);
      return release;
    });
  }

  /** Header first, then data; resolves once the client half-closes and the file is complete. */
  private receive(
    messages: Observable<AnalyzeClipRequest>,
    call: Call,
    upload: ClipUpload,
    signal: AbortSignal,
  ): Promise<ClipJob> {
    const capabilities = this.analyzer.capabilities();
    const idleMs = this.limits.idleTimeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      let opened: Promise<ClipJob> | undefined;
      let writes = Promise.resolve();
      let idle: NodeJS.Timeout | undefined;
      const restartIdle = () => {
        clearTimeout(idle);
        idle = setTimeout(
          () =>
            fail(
              new ApiError(
                ApiErrorCode.DEADLINE_EXCEEDED,
                `data: nothing received for ${idleMs / 1000} s`,
                'data',
              ),
            ),
          idleMs,
        );
        idle.unref();
      };
      const fail = (error: unknown) => {
        clearTimeout(idle);
        signal.removeEventListener('abort', cancelled);
        subscription?.unsubscribe();
        reject(error);
      };
      // The caller left (or its deadline passed) while uploading: stop waiting for bytes.
      const cancelled = () => fail(new ApiError(ApiErrorCode.CANCELLED, 'cancelled'));
      signal.addEventListener('abort', cancelled, { once: true });
      restartIdle();
      // eslint-disable-next-line prefer-const -- fail() may run before the subscription returns
      let subscription: Subscription | undefined;
      subscription = messages.subscribe({
        next: (message) => {
          restartIdle();
          try {
            if (!opened) {
              opened = this.open(message, capabilities, upload);
              writes = opened.then(() => undefined);
              writes.catch(fail);
              return;
            }
            if (message.part === 'header') {
              throw ApiError.invalid('header', 'only the first message may carry a ClipHeader');
            }
            if (message.part !== 'data') throw ApiError.invalid('part', 'set header or data');
            const data = message.data ?? new Uint8Array(0);
            writes = writes.then(async () => {
              if (!upload.write(data)) {
                call.pause();
                await upload.drained();
                call.resume();
              }
            });
            writes.catch(fail);
          } catch (error) {
            fail(error);
          }
        },
        error: fail,
        complete: () => {
          clearTimeout(idle);
          signal.removeEventListener('abort', cancelled);
          if (!opened) return fail(ApiError.invalid('header', 'no ClipHeader was sent'));
          writes
            .then(() => upload.finish())
            .then(() => opened!)
            .then((job) => {
              if (upload.bytes === 0) throw ApiError.invalid('data', 'no clip bytes were sent');
              resolve(job);
            })
            .catch(fail);
        },
      });
    });
  }

  private open(
    message: AnalyzeClipRequest,
    capabilities: ReturnType<ClipAnalyzer['capabilities']>,
    upload: ClipUpload,
  ): Promise<ClipJob> {
    if (message.part !== 'header' || !message.header) {
      throw ApiError.invalid('header', 'the first message must carry the ClipHeader');
    }
    const header = message.header;
    const name = (header.name ?? '').slice(0, 255) || 'clip';
    const job = {
      name,
      fps: clipFps(header.fps, capabilities, 'header.fps'),
      rulesProfile: rulesProfile(header.rulesProfile, capabilities, 'header.rules_profile'),
    };
    return upload.open(name).then((path) => ({ ...job, path }));
  }

  private async run(
    job: ClipJob,
    subscriber: Subscriber<unknown>,
    call: Call,
    signal: AbortSignal,
    bytesReceived: number,
  ): Promise<void> {
    const maxUnread = this.limits.maxUnreadAnswers ?? 10_000;
    const aborter = new AbortController();
    const abort = () => aborter.abort();
    signal.addEventListener('abort', abort, { once: true });
    let unread = 0;
    let overflow: ApiError | undefined;
    // Nest queues what the call cannot take; a client that stops reading must not make that
    // queue grow with the clip's length.
    const answer = (message: object) => {
      if (overflow) return;
      unread = call.writableNeedDrain ? unread + 1 : 0;
      if (unread > maxUnread) {
        overflow = new ApiError(
          ApiErrorCode.RESOURCE_EXHAUSTED,
          `the client left more than ${maxUnread} answers unread`,
        );
        aborter.abort();
        return;
      }
      subscriber.next(message);
    };
    try {
      const summary = await this.analyzer.analyze(
        job,
        {
          detections: (set) => {
            if (set.detections.length > 0) answer({ detections: grpcDetectionSet(set) });
          },
          incident: (event) => answer({ incident: grpcEvent(event) }),
        },
        aborter.signal,
      );
      if (overflow) throw overflow;
      subscriber.next({ summary: { ...summary, bytesReceived } });
    } catch (error) {
      throw overflow ?? error;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }
}
