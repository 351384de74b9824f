import { runService } from '@app/service';
import { SpectrogramModule } from './spectrogram.module';

void runService('spectrogram', (config) => SpectrogramModule.forRoot(config));
