import { Controller, Inject, UseFilters, UseGuards } from '@nestjs/common';
import { GrpcStreamMethod } from '@nestjs/microservices';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { Observable, type Subscriber } from 'rxjs';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { ApiError, ApiErrorCode } from './api.error';
import { ClipAnalyzer } from './api.ports';
import { callSignal } from './call.signal';
import { ClipUpload } from './clip.upload';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { grpcDetectionSet, grpcEvent } from './grpc.mappers';
import { clipFps, rulesProfile } from './request.parsers';

const SERVICE = 'AnalysisService';

export interface AnalysisLimits {
  maxClipBytes: number;
  maxConcurrent: number;
}
export const ANALYSIS_LIMITS = Symbol('ANALYSIS_LIMITS');

interface AnalyzeClipRequest {
  part?: 'header' | 'data';
  header?: { name?: string; fps?: number | null; rulesProfile?: string };
  data?: Uint8Array;
}

/**
 * vigil.v1.AnalysisService: `vigil analyze` over the wire. The upload is spooled to disk with
 * backpressure (the call is paused while the file catches up), then analysed; detections and
 * incidents stream back as fusion decides them.
 */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@RequireRole('operator')
export class AnalysisController {
  private running = 0;

  constructor(
    private readonly analyzer: ClipAnalyzer,
    @Inject(ANALYSIS_LIMITS) private readonly limits: AnalysisLimits,
  ) {}

  @GrpcStreamMethod(SERVICE, 'AnalyzeClip')
  analyzeClip(
    messages: Observable<AnalyzeClipRequest>,
    _metadata: unknown,
    call: ServerDuplexStream<unknown, unknown>,
  ) {
    if (this.running >= this.limits.maxConcurrent) {
      throw new ApiError(
        ApiErrorCode.RESOURCE_EXHAUSTED,
        `${this.running} clips are being analysed; try again later`,
      );
    }
    this.running++;
    return new Observable((subscriber) => {
      const { signal, dispose } = callSignal(call);
      const upload = new ClipUpload(this.limits.maxClipBytes);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.running--;
        dispose();
        void upload.dispose();
      };
      this.receive(messages, call, upload)
        .then((request) => {
          if (signal.aborted) throw new ApiError(ApiErrorCode.CANCELLED, 'cancelled');
          return this.analyze(request, subscriber, signal, upload.bytes);
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
    call: ServerDuplexStream<unknown, unknown>,
    upload: ClipUpload,
  ): Promise<{ path: string; name: string; fps: number; rulesProfile: string }> {
    const capabilities = this.analyzer.capabilities();
    return new Promise((resolve, reject) => {
      let opened:
        Promise<{ path: string; name: string; fps: number; rulesProfile: string }> | undefined;
      let writes = Promise.resolve();
      const fail = (error: unknown) => {
        subscription.unsubscribe();
        reject(error);
      };
      const subscription = messages.subscribe({
        next: (message) => {
          try {
            if (!opened) {
              if (message.part !== 'header' || !message.header) {
                throw ApiError.invalid('header', 'the first message must carry the ClipHeader');
              }
              const header = message.header;
              const name = (header.name ?? '').slice(0, 255) || 'clip';
              const request = {
                name,
                fps: clipFps(header.fps, capabilities, 'header.fps'),
                rulesProfile: rulesProfile(
                  header.rulesProfile,
                  capabilities,
                  'header.rules_profile',
                ),
              };
              opened = upload.open(name).then((path) => ({ ...request, path }));
              writes = opened.then(() => undefined);
              return;
            }
            if (message.part !== 'data') {
              throw ApiError.invalid('header', 'only the first message may carry a ClipHeader');
            }
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
          if (!opened) return fail(ApiError.invalid('header', 'no ClipHeader was sent'));
          writes
            .then(() => upload.finish())
            .then(() => opened!)
            .then((request) => {
              if (upload.bytes === 0) throw ApiError.invalid('data', 'no clip bytes were sent');
              resolve(request);
            })
            .catch(fail);
        },
      });
    });
  }

  private async analyze(
    request: { path: string; name: string; fps: number; rulesProfile: string },
    subscriber: Subscriber<unknown>,
    signal: AbortSignal,
    bytesReceived: number,
  ): Promise<void> {
    const summary = await this.analyzer.analyze(
      request,
      {
        detections: (set) => {
          if (set.detections.length > 0) {
            subscriber.next({ detections: grpcDetectionSet(set) });
          }
        },
        incident: (event) => subscriber.next({ incident: grpcEvent(event) }),
      },
      signal,
    );
    subscriber.next({ summary: { ...summary, bytesReceived } });
  }
}
