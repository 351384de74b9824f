import { runService } from '@app/service';
import { InferenceModule } from './inference.module';

void runService('inference', (config) => InferenceModule.forRoot(config));
