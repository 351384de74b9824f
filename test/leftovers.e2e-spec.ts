import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, modelsDir } from '@app/testing/fixtures';

/**
 * A run leaves nothing behind: onnxruntime-node 1.30's native library created an empty
 * /tmp/mat-debug-<pid>.log in every process that ran a model (1.31.1 does not).
 */
describe('a vigil analyze process', () => {
  it('leaves no /tmp/mat-debug-<pid>.log behind', () => {
    // Whole milliseconds: a file's mtime can read a fraction earlier than the clock did.
    const started = Math.floor(Date.now() / 1000) * 1000;
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
    // Only a file this run made counts: a machine that once ran an older onnxruntime keeps
    // files of old pids, and the run's pid may be one of them.
    const log = `/tmp/mat-debug-${run.pid}.log`;
    expect(existsSync(log) && statSync(log).mtimeMs >= started).toBe(false);
  }, 120_000);
});
