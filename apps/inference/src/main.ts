import { runService } from '@app/service';
import { InferenceModule } from './inference.module';

void runService('inference', (config, api) => InferenceModule.forRoot(config, api), ['inference']);
