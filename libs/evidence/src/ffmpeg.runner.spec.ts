import { type ProcessSpawner, type FfmpegLocator, MediaError, MediaErrorCode } from '@app/media';
import { strictMock } from '@app/testing';
import { FakeProcess } from '../test/fake.process';
import { EvidenceErrorCode } from './evidence.error';
import { FfmpegRunner } from './ffmpeg.runner';

function setup(options: ConstructorParameters<typeof FfmpegRunner>[0] = {}) {
  const child = new FakeProcess();
  const spawn = jest.fn((..._args: Parameters<ProcessSpawner['spawn']>) => child);
  const locate = jest.fn(() => '/usr/bin/ffmpeg');
  const runner = new FfmpegRunner(
    options,
    strictMock<ProcessSpawner>('spawner', { spawn }),
    strictMock<FfmpegLocator>('locator', { locate }),
  );
  return { runner, child, spawn, locate };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('FfmpegRunner', () => {
  it('feeds stdin, quiets the log and resolves with what ffmpeg wrote to stdout', async () => {
    const { runner, child, spawn } = setup();
    const done = runner.run(['-i', 'pipe:0', 'pipe:1'], new Uint8Array([1, 2, 3]), 'job');
    await tick();
    expect(spawn).toHaveBeenCalledWith(
      '/usr/bin/ffmpeg',
      ['-hide_banner', '-nostats', '-loglevel', 'error', '-i', 'pipe:0', 'pipe:1'],
      ['pipe', 'pipe', 'pipe'],
    );
    expect(Buffer.concat(child.fed)).toEqual(Buffer.from([1, 2, 3]));
    expect(child.stdinEnded).toBe(true);
    child.finish(0, new Uint8Array([9, 8]));
    await expect(done).resolves.toEqual(new Uint8Array([9, 8]));
  });

  it('locates ffmpeg once, on first use, unless a binary was given', async () => {
    const { runner, child, locate } = setup();
    expect(locate).not.toHaveBeenCalled();
    const first = runner.run([], new Uint8Array(1), 'job');
    child.finish(0, new Uint8Array(1));
    await first;
    const given = setup({ binary: '/opt/ffmpeg' });
    const second = given.runner.run([], new Uint8Array(1), 'job');
    given.child.finish(0, new Uint8Array(1));
    await second;
    expect(locate).toHaveBeenCalledTimes(1);
    expect(given.locate).not.toHaveBeenCalled();
    expect(given.spawn.mock.calls[0][0]).toBe('/opt/ffmpeg');
  });

  it('rejects with the last log line when ffmpeg fails', async () => {
    const { runner, child } = setup();
    const done = runner.run([], new Uint8Array(1), 'PNG 4x4');
    child.finish(1, new Uint8Array(0), 'first\n[png] Invalid size\n');
    await expect(done).rejects.toMatchObject({
      code: EvidenceErrorCode.ENCODE_FAILED,
      message: 'PNG 4x4: ffmpeg exited with 1: [png] Invalid size',
      detail: ['first', '[png] Invalid size'],
    });
  });

  it('treats an empty output as a failure: a zero-byte image is not evidence', async () => {
    const { runner, child } = setup();
    const done = runner.run([], new Uint8Array(1), 'job');
    child.finish(0);
    await expect(done).rejects.toThrow('job: ffmpeg wrote nothing');
  });

  it('kills ffmpeg and rejects when it outlives the timeout', async () => {
    jest.useFakeTimers();
    try {
      const { runner, child } = setup({ timeoutMs: 1000 });
      const done = runner.run([], new Uint8Array(1), 'job');
      jest.advanceTimersByTime(999);
      expect(child.signals).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(child.signals).toEqual(['SIGKILL']);
      await expect(done).rejects.toThrow('job: ffmpeg did not finish within 1000 ms');
    } finally {
      jest.useRealTimers();
    }
  });

  it('kills ffmpeg when its output passes the cap', async () => {
    const { runner, child } = setup({ maxOutputBytes: 4 });
    const done = runner.run([], new Uint8Array(1), 'job');
    child.stdout.write(new Uint8Array(5));
    await expect(done).rejects.toThrow('job: ffmpeg wrote more than 4 bytes');
    expect(child.signals).toEqual(['SIGKILL']);
  });

  it('reports a spawn error and a missing ffmpeg as encode failures', async () => {
    const { runner, child } = setup();
    const done = runner.run([], new Uint8Array(1), 'job');
    child.emit('error', new Error('spawn /usr/bin/ffmpeg EACCES'));
    await expect(done).rejects.toThrow('job: ffmpeg could not run: spawn /usr/bin/ffmpeg EACCES');

    const missing = new FfmpegRunner(
      {},
      strictMock<ProcessSpawner>('spawner', {}),
      strictMock<FfmpegLocator>('locator', {
        locate: () => {
          throw new MediaError(MediaErrorCode.FFMPEG_NOT_FOUND, 'ffmpeg was not found');
        },
      }),
    );
    await expect(missing.run([], new Uint8Array(1), 'job')).rejects.toMatchObject({
      code: EvidenceErrorCode.ENCODE_FAILED,
      message: 'job: ffmpeg was not found',
    });
  });
});
