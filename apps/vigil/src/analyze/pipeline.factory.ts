import { Inject, Injectable, Logger } from '@nestjs/common';
import type { VigilConfig } from '@app/config';
import type { SecurityEvent } from '@app/contracts';
import { type RuleSet, loadRuleSet } from '@app/fusion';
import { MediaDecoder } from '@app/media';
import { ModelLoader } from '@app/models';
import { EmbeddedPipeline } from '@app/pipeline';
import { VIGIL_CONFIG } from '../vigil.tokens';

export interface OpenedPipeline {
  pipeline: EmbeddedPipeline;
  rules: RuleSet;
  models: { audio: string; video: string };
}

/** The one-process pipeline `analyze` and `eval` run: configured rules and models, started. */
@Injectable()
export class PipelineFactory {
  private readonly logger = new Logger(PipelineFactory.name);

  constructor(
    @Inject(VIGIL_CONFIG) private readonly config: VigilConfig,
    private readonly decoder: MediaDecoder,
    private readonly models: ModelLoader,
  ) {}

  async open(onEvent?: (event: SecurityEvent) => void): Promise<OpenedPipeline> {
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
      motion: this.config.motionGating ? {} : undefined,
      liveFrames: { maxAgeMs: this.config.liveFrameMaxAgeMs },
      onEvent,
    });
    await pipeline.start();
    return {
      pipeline,
      rules,
      models: {
        audio: audioModel.companion
          ? `${audioModel.manifest.name}+${audioModel.companion.name}`
          : audioModel.manifest.name,
        video: videoModel.manifest.name,
      },
    };
  }
}
