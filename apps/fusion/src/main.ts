import { runService } from '@app/service';
import { FusionModule } from './fusion.module';

void runService('fusion', (config, api) => FusionModule.forRoot(config, api), [
  'events',
  'webhooks',
]);
