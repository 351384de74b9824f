import 'reflect-metadata';
import { main } from './apps/vigil/src/vigil.cli';
(async () => {
  process.env.VIGIL_MODELS_DIR = '../shared/models';
  for (const f of ['/tmp/silent.mp4', '/tmp/silent.mp4', '../shared/fixtures/audio/gunshot_fs522085_magnuswaker_pistol.flac']) {
    const t = Date.now();
    const code = await main(['analyze', f, '--json']);
    console.error('code', code, Date.now() - t, 'ms');
  }
})();
