import { UsageError, parseCommand } from './cli.args';

describe('parseCommand', () => {
  it('parses analyze with its options', () => {
    expect(
      parseCommand([
        'analyze',
        'clip.mp4',
        '--json',
        '--fps',
        '2.5',
        '--rules',
        'r.yaml',
        '--models',
        '/m',
      ]),
    ).toEqual({
      kind: 'analyze',
      source: 'clip.mp4',
      json: true,
      fps: 2.5,
      rulesFile: 'r.yaml',
      modelsDir: '/m',
      streamId: undefined,
    });
  });

  it('takes --precision on analyze, eval and serve', () => {
    expect(parseCommand(['analyze', 'clip.mp4', '--precision', 'int8'])).toMatchObject({
      kind: 'analyze',
      precision: 'int8',
    });
    expect(parseCommand(['eval', 'labels.json', '--precision', 'fp32'])).toMatchObject({
      kind: 'eval',
      precision: 'fp32',
    });
    expect(parseCommand(['serve', '--precision', 'auto'])).toMatchObject({
      kind: 'serve',
      precision: 'auto',
    });
    expect(parseCommand(['analyze', 'clip.mp4'])).toMatchObject({ precision: undefined });
  });

  it('rejects an unknown precision, and --precision where nothing runs a model', () => {
    expect(() => parseCommand(['analyze', 'clip.mp4', '--precision', 'int4'])).toThrow(
      new UsageError('--precision must be one of auto, int8, fp32, got "int4"'),
    );
    expect(() => parseCommand(['models', 'list', '--precision', 'int8'])).toThrow(
      '--precision goes with analyze, eval, serve or edge',
    );
  });

  it('parses edge with its config file, models and precision', () => {
    expect(
      parseCommand(['edge', '--config', 'site.yaml', '--models', 'm', '--precision', 'int8']),
    ).toEqual({ kind: 'edge', configFile: 'site.yaml', modelsDir: 'm', precision: 'int8' });
    expect(() => parseCommand(['edge', 'rtsp://cam'])).toThrow(
      new UsageError('edge takes no positional arguments'),
    );
  });

  it('parses models actions', () => {
    expect(parseCommand(['models', 'pull', 'yolox-nano', '--mirror', 'http://m'])).toEqual({
      kind: 'models',
      action: 'pull',
      names: ['yolox-nano'],
      mirror: 'http://m',
      modelsDir: undefined,
    });
  });

  it('parses webhooks list-dead and replay', () => {
    expect(
      parseCommand([
        'webhooks',
        'list-dead',
        '--subscription',
        'soc',
        '--json',
        '--address',
        'h:1',
      ]),
    ).toEqual({
      kind: 'webhooks',
      action: 'list-dead',
      subscriptionId: 'soc',
      json: true,
      address: 'h:1',
    });
    expect(parseCommand(['webhooks', 'replay', 'd1', 'd2', '--ca', 'ca.crt'])).toEqual({
      kind: 'webhooks',
      action: 'replay',
      deliveryIds: ['d1', 'd2'],
      all: false,
      caFile: 'ca.crt',
    });
    expect(parseCommand(['webhooks', 'replay', '--all', '--subscription', 'soc'])).toEqual({
      kind: 'webhooks',
      action: 'replay',
      deliveryIds: [],
      all: true,
      subscriptionId: 'soc',
    });
  });

  it.each([
    [[], 'help'],
    [['--help'], 'help'],
    [['-v'], 'version'],
  ])('%j → %s', (argv, kind) => {
    expect(parseCommand(argv).kind).toBe(kind);
  });

  it.each([
    [['analyze'], /exactly one file or URL/],
    [['analyze', 'a', 'b'], /exactly one file or URL/],
    [['analyze', 'a', '--fps', '0'], /--fps must be a number between 0.1 and 60/],
    [['analyze', 'a', '--colour'], /Unknown option '--colour'/],
    [['models', 'delete'], /models takes list, verify or pull/],
    [['serve-coffee'], /unknown command "serve-coffee"/],
    [['webhooks'], /webhooks takes list-dead or replay/],
    [['webhooks', 'list-dead', 'x'], /list-dead takes no positional arguments/],
    [['webhooks', 'replay'], /the delivery ids to replay, or --all/],
    [['webhooks', 'replay', 'd1', '--all'], /delivery ids or --all, not both/],
    [['webhooks', 'replay', 'd1', '--subscription', 'soc'], /--subscription goes with --all/],
    [['serve-coffee', '--help'], /unknown command "serve-coffee"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
