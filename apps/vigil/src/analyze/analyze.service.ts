import { Injectable } from '@nestjs/common';
import type { SecurityEvent } from '@app/contracts';
import type { MediaInfo } from '@app/media';
import type { AnalysisResult } from '@app/pipeline';
import { streamIdFor } from '@app/contracts';
import { PipelineFactory } from './pipeline.factory';

export interface AnalyzeRequest {
  source: string;
  streamId?: string;
  onInfo?: (info: MediaInfo) => void;
  onProgress?: (sec: number) => void;
  onEvent?: (event: SecurityEvent) => void;
}

export interface AnalyzeReport extends AnalysisResult {
  source: string;
  models: { audio: string; video: string };
  wallSec: number;
}

/** `vigil analyze`: one source through the whole pipeline in this process. */
@Injectable()
export class AnalyzeService {
  constructor(private readonly pipelines: PipelineFactory) {}

  async analyze(request: AnalyzeRequest): Promise<AnalyzeReport> {
    const started = process.hrtime.bigint();
    const { pipeline, models } = await this.pipelines.open(request.onEvent);
    try {
      const result = await pipeline.analyze({
        streamId: request.streamId ?? streamIdFor(request.source),
        source: request.source,
        onInfo: request.onInfo,
        onProgress: request.onProgress,
      });
      return {
        ...result,
        source: request.source,
        models,
        wallSec: Number(process.hrtime.bigint() - started) / 1e9,
      };
    } finally {
      await pipeline.stop();
    }
  }
}
