import { FfmpegLocator } from './ffmpeg.locator';
import { MediaErrorCode } from './media.error';

function locator(
  env: Record<string, string | undefined>,
  executables: string[],
  ffmpegStatic?: string | null,
) {
  const isExecutableFile = jest.fn((path: string) => executables.includes(path));
  const staticPath = jest.fn(() => ffmpegStatic);
  return {
    locator: new FfmpegLocator({
      env,
      files: { isExecutableFile },
      ffmpegStatic: staticPath,
      platform: 'linux',
    }),
    isExecutableFile,
    staticPath,
  };
}

function failure(run: () => unknown): { code?: string; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected a failure');
}

describe('FfmpegLocator', () => {
  it('prefers an executable FFMPEG_PATH and looks no further', () => {
    const { locator: l, staticPath } = locator(
      { FFMPEG_PATH: '/opt/ff/ffmpeg', PATH: '/usr/bin' },
      ['/opt/ff/ffmpeg', '/usr/bin/ffmpeg'],
      '/s/ffmpeg',
    );
    expect(l.locate()).toBe('/opt/ff/ffmpeg');
    expect(staticPath).not.toHaveBeenCalled();
  });

  it('refuses a wrong FFMPEG_PATH instead of silently using another ffmpeg', () => {
    const { locator: l } = locator({ FFMPEG_PATH: '/nope/ffmpeg', PATH: '/usr/bin' }, [
      '/usr/bin/ffmpeg',
    ]);
    const error = failure(() => l.locate());
    expect(error.code).toBe(MediaErrorCode.FFMPEG_NOT_FOUND);
    expect(error.message).toContain('FFMPEG_PATH');
    expect(error.message).toContain('/nope/ffmpeg');
  });

  it('uses the ffmpeg-static binary when the package is installed and its file exists', () => {
    expect(
      locator(
        { PATH: '/usr/bin' },
        ['/m/ffmpeg-static/ffmpeg', '/usr/bin/ffmpeg'],
        '/m/ffmpeg-static/ffmpeg',
      ).locator.locate(),
    ).toBe('/m/ffmpeg-static/ffmpeg');
  });

  it('falls back to PATH when ffmpeg-static is absent or its binary is missing', () => {
    expect(locator({ PATH: '/a:/usr/bin' }, ['/usr/bin/ffmpeg'], undefined).locator.locate()).toBe(
      '/usr/bin/ffmpeg',
    );
    expect(
      locator(
        { PATH: '/usr/bin' },
        ['/usr/bin/ffmpeg'],
        '/m/ffmpeg-static/ffmpeg',
      ).locator.locate(),
    ).toBe('/usr/bin/ffmpeg');
  });

  it('never runs an ffmpeg from the current directory through an empty or relative PATH entry', () => {
    const { locator: l, isExecutableFile } = locator({ PATH: ':.:bin:/usr/bin' }, [
      'ffmpeg',
      'bin/ffmpeg',
      '/usr/bin/ffmpeg',
    ]);
    expect(l.locate()).toBe('/usr/bin/ffmpeg');
    expect(isExecutableFile.mock.calls.map(([p]) => p)).toEqual(['/usr/bin/ffmpeg']);
  });

  it('says how to install ffmpeg when there is none', () => {
    const error = failure(() => locator({ PATH: '/usr/bin' }, [], null).locator.locate());
    expect(error.code).toBe(MediaErrorCode.FFMPEG_NOT_FOUND);
    expect(error.message).toMatch(/apt install ffmpeg/);
    expect(error.message).toMatch(/brew install ffmpeg/);
    expect(error.message).toMatch(/FFMPEG_PATH/);
  });

  it('looks once and remembers', () => {
    const { locator: l, isExecutableFile } = locator({ PATH: '/usr/bin' }, ['/usr/bin/ffmpeg']);
    l.locate();
    l.locate();
    expect(isExecutableFile).toHaveBeenCalledTimes(1);
  });
});
