import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, modelsDir } from '@app/testing/fixtures';

/**
 * A run leaves nothing behind: onnxruntime-node 1.30's native library created an empty
 * /tmp/mat-debug-<pid>.log in every process that ran a model (1.31.1 does not).
 */
describe('a vigil analyze process', () => {
  it('leaves no /tmp/mat-debug-<pid>.log behind', () => {
    const run = spawnSync(
      process.execPath,
      [
        join(__dirname, '..', 'bin', 'vigil.js'),
        'analyze',
        fixture('clips/comp01_person_glassbreak.mp4'),
        '--json',
      ],
      {
        env: { ...process.env, VIGIL_MODELS_DIR: modelsDir() },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/"type":"summary"/);
    expect(existsSync(`/tmp/mat-debug-${run.pid}.log`)).toBe(false);
  }, 120_000);
});
