import { Inject, Injectable, Logger } from '@nestjs/common';
import type { VigilConfig } from '@app/config';
import type { SecurityEvent } from '@app/contracts';
import { loadRuleSet } from '@app/fusion';
import { type MediaInfo, MediaDecoder } from '@app/media';
import { ModelLoader } from '@app/models';
import { type AnalysisResult, EmbeddedPipeline } from '@app/pipeline';
import { VIGIL_CONFIG } from '../vigil.tokens';
import { streamIdFor } from '@app/contracts';

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
  private readonly logger = new Logger(AnalyzeService.name);

  constructor(
    @Inject(VIGIL_CONFIG) private readonly config: VigilConfig,
    private readonly decoder: MediaDecoder,
    private readonly models: ModelLoader,
  ) {}

  async analyze(request: AnalyzeRequest): Promise<AnalyzeReport> {
    const started = process.hrtime.bigint();
    // Rules and models are checked before any media is touched: a typo fails fast.
    const rules = await loadRuleSet(this.config.rulesFile);
    const [audioModel, videoModel] = await Promise.all([
      this.models.audio(this.config.audioModel),
      this.models.video(this.config.videoModel),
    ]);
    this.logger.log(`models: ${audioModel.manifest.name}, ${videoModel.manifest.name}`);
    const pipeline = new EmbeddedPipeline({
      decoder: this.decoder,
      audioModel,
      videoModel,
      rules,
      fps: this.config.fps,
      onEvent: request.onEvent,
    });
    await pipeline.start();
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
        models: { audio: audioModel.manifest.name, video: videoModel.manifest.name },
        wallSec: Number(process.hrtime.bigint() - started) / 1e9,
      };
    } finally {
      await pipeline.stop();
    }
  }
}
