import { runService } from '@app/service';
import { IngestModule } from './ingest.module';

void runService('ingest', (config, api) => IngestModule.forRoot(config, api), ['streams']);
