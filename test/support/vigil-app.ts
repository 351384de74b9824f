import { Test } from '@nestjs/testing';
import { loadConfig, type VigilConfig } from '@app/config';
import { AnalyzeService } from '../../apps/vigil/src/analyze/analyze.service';
import { VigilModule } from '../../apps/vigil/src/vigil.module';
import { modelsDir } from './fixtures';

/** The CLI's real module (real ffmpeg, real models from ../shared), for end-to-end tests. */
export async function analyzeService(overrides: Partial<VigilConfig> = {}) {
  const config = loadConfig({ ...process.env, VIGIL_MODELS_DIR: modelsDir() }, overrides);
  const moduleRef = await Test.createTestingModule({
    imports: [VigilModule.forRoot(config)],
  }).compile();
  moduleRef.useLogger(false);
  return { service: moduleRef.get(AnalyzeService), close: () => moduleRef.close() };
}
