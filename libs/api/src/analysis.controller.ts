import { Controller, UseFilters, UseGuards, UseInterceptors } from '@nestjs/common';
import { GrpcStreamMethod } from '@nestjs/microservices';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Observable } from 'rxjs';
import { ApiAuthGuard, RequireRole } from './api-auth.guard';
import { type AnalyzeClipRequest, ClipAnalysisService } from './clip-analysis.service';
import { CallContextInterceptor } from './call-context.interceptor';
import { GrpcExceptionFilter } from './grpc-exception.filter';

/** vigil.v1.AnalysisService: `vigil analyze` over the wire. */
@Controller()
@UseGuards(ApiAuthGuard)
@UseFilters(GrpcExceptionFilter)
@UseInterceptors(CallContextInterceptor)
@RequireRole('operator')
export class AnalysisController {
  constructor(private readonly clips: ClipAnalysisService) {}

  @GrpcStreamMethod('AnalysisService', 'AnalyzeClip')
  analyzeClip(
    messages: Observable<AnalyzeClipRequest>,
    _metadata: unknown,
    call: ServerDuplexStream<unknown, unknown>,
  ) {
    return this.clips.analyze(messages, call);
  }
}
