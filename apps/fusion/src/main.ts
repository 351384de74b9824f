import { runService } from '@app/service';
import { FusionModule } from './fusion.module';

void runService('fusion', (config) => FusionModule.forRoot(config));
