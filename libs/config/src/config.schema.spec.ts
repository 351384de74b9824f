import { ConfigError } from './config.error';
import { loadConfig, loadLogLevel } from './config.schema';

describe('loadConfig', () => {
  it('fills defaults, with models in the user cache', () => {
    const config = loadConfig({ HOME: '/home/ana' });
    expect(config).toMatchObject({
      modelsDir: '/home/ana/.cache/vigil/models',
      audioModel: 'efficientat-mn04',
      videoModel: 'yolox-nano',
      executionProvider: 'cpu',
      fps: 5,
    });
  });

  it('reads the environment and lets overrides win', () => {
    const config = loadConfig(
      { VIGIL_MODELS_DIR: '/models', VIGIL_FPS: '2', VIGIL_EXECUTION_PROVIDER: 'cuda' },
      { fps: 10 },
    );
    expect(config).toMatchObject({ modelsDir: '/models', fps: 10, executionProvider: 'cuda' });
  });

  it.each([
    [
      'VIGIL_EXECUTION_PROVIDER',
      'gpu',
      /VIGIL_EXECUTION_PROVIDER: must be one of cpu, cuda, tensorrt/,
    ],
    ['VIGIL_FPS', 'fast', /VIGIL_FPS: must be a number between/],
    ['VIGIL_INFERENCE_THREADS', '1.5', /VIGIL_INFERENCE_THREADS: must be an integer/],
  ])('names the key of a bad value (%s=%s)', (key, value, message) => {
    expect(() => loadConfig({ [key]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [key]: value })).toThrow(message);
  });

  it('chooses precision per model: auto by default, VIGIL_PRECISION for both, per-model keys win', () => {
    expect(loadConfig({})).toMatchObject({ audioPrecision: 'auto', videoPrecision: 'auto' });
    expect(loadConfig({ VIGIL_PRECISION: 'fp32' })).toMatchObject({
      audioPrecision: 'fp32',
      videoPrecision: 'fp32',
    });
    expect(loadConfig({ VIGIL_PRECISION: 'fp32', VIGIL_VIDEO_PRECISION: 'int8' })).toMatchObject({
      audioPrecision: 'fp32',
      videoPrecision: 'int8',
    });
    // --precision on the command line arrives as overrides and wins over the environment.
    expect(
      loadConfig(
        { VIGIL_VIDEO_PRECISION: 'int8' },
        { audioPrecision: 'fp32', videoPrecision: 'fp32' },
      ),
    ).toMatchObject({ audioPrecision: 'fp32', videoPrecision: 'fp32' });
  });

  it.each(['VIGIL_PRECISION', 'VIGIL_AUDIO_PRECISION', 'VIGIL_VIDEO_PRECISION'])(
    'names the key of a bad precision (%s)',
    (key) => {
      expect(() => loadConfig({ [key]: 'int4' })).toThrow(
        `${key}: must be one of auto, int8, fp32, got "int4"`,
      );
    },
  );

  it('rejects an out-of-range override', () => {
    expect(() => loadConfig({}, { fps: 0 })).toThrow(/fps: must be a number/);
  });
});

describe('loadLogLevel', () => {
  it('reads VIGIL_LOG_LEVEL, falls back when unset and names the key when wrong', () => {
    expect(loadLogLevel({ VIGIL_LOG_LEVEL: 'debug' })).toBe('debug');
    expect(loadLogLevel({})).toBe('warn');
    expect(loadLogLevel({ VIGIL_LOG_LEVEL: '' }, 'log')).toBe('log');
    expect(() => loadLogLevel({ VIGIL_LOG_LEVEL: 'info' })).toThrow(
      new ConfigError('VIGIL_LOG_LEVEL', 'must be one of error, warn, log, debug, got "info"'),
    );
  });
});
