import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@app/config';
import { loadApiConfig, loadServeConfig } from './api-config.loader';

describe('the API config file', () => {
  let dir: string;
  const file = (text: string) => {
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, text);
    return path;
  };
  const keyOf = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).key;
    }
    throw new Error('no ConfigError');
  };

  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vigil-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has safe defaults: loopback for serve, no gRPC for a service, data under VIGIL_DATA_DIR', () => {
    const serve = loadServeConfig(undefined, { VIGIL_DATA_DIR: '/data' });
    expect(serve.grpc).toEqual({ address: '127.0.0.1:50051', maxMessageBytes: 8 * 1024 * 1024 });
    expect(serve.history.path).toBe('/data/history.sqlite');
    expect(serve.evidence.dir).toBe('/data/evidence');
    expect(serve.tokens).toEqual([]);
    expect(serve.http).toEqual({ address: '127.0.0.1:8080', secureCookie: false });
    expect(loadApiConfig(undefined, {}).grpc).toBeUndefined();
    expect(loadApiConfig(undefined, {}).http).toBeUndefined();
    expect(loadApiConfig(undefined, { VIGIL_GRPC_ADDRESS: '0.0.0.0:50051' }).grpc?.address).toBe(
      '0.0.0.0:50051',
    );
  });

  it('serves the console where http.address or VIGIL_HTTP_ADDRESS says, or nowhere with off', () => {
    const path = file('http: { address: 0.0.0.0:8443, secureCookie: true }');
    expect(loadServeConfig(path, {}).http).toEqual({ address: '0.0.0.0:8443', secureCookie: true });
    expect(loadServeConfig(path, { VIGIL_HTTP_ADDRESS: '127.0.0.1:9000' }).http?.address).toBe(
      '127.0.0.1:9000',
    );
    expect(loadServeConfig(undefined, { VIGIL_HTTP_ADDRESS: 'off' }).http).toBeUndefined();
    expect(loadApiConfig(path, {}).http?.address).toBe('0.0.0.0:8443');
    expect(keyOf(() => loadServeConfig(undefined, { VIGIL_HTTP_ADDRESS: 'nowhere' }))).toBe(
      'VIGIL_HTTP_ADDRESS',
    );
    expect(keyOf(() => loadServeConfig(file('http: { port: 80 }'), {}))).toBe('http.port');
  });

  it('reads tokens and secrets from the environment and paths relative to the file', () => {
    const path = file(
      [
        'auth:',
        '  tokens: [{ name: vms, role: operator, tokenEnv: OP_TOKEN }]',
        'history: { path: ./h.sqlite }',
        'rules: { default: rules.yaml, profiles: { indoor: indoor.yaml } }',
      ].join('\n'),
    );
    const config = loadServeConfig(path, { OP_TOKEN: 'x'.repeat(24) });
    expect(config.tokens).toEqual([{ name: 'vms', role: 'operator', token: 'x'.repeat(24) }]);
    expect(config.history.path).toBe(join(dir, 'h.sqlite'));
    expect(config.rulesProfiles).toEqual({ indoor: join(dir, 'indoor.yaml') });
    expect(config.vigil.rulesFile).toBe(join(dir, 'rules.yaml'));
    // The environment wins over the file, the command line over both.
    expect(
      loadServeConfig(path, { OP_TOKEN: 'x'.repeat(24), VIGIL_RULES_FILE: '/env.yaml' }).vigil
        .rulesFile,
    ).toBe('/env.yaml');
    expect(
      loadServeConfig(path, { OP_TOKEN: 'x'.repeat(24) }, { rulesFile: '/cli.yaml' }).vigil
        .rulesFile,
    ).toBe('/cli.yaml');
  });

  it.each([
    ['grpc: { adress: 1.2.3.4:5 }', 'grpc.adress'],
    ['grpc: { address: nowhere }', 'grpc.address'],
    ['grpc: { tls: { certFile: a.crt } }', 'grpc.tls'],
    [
      'grpc: { tls: { certFile: a.crt, keyFile: a.key, requireClientCert: true } }',
      'grpc.tls.caFile',
    ],
    [
      'auth: { tokens: [{ name: a, role: admin, token: "0123456789abcdef" }] }',
      'auth.tokens[0].role',
    ],
    ['auth: { tokens: [{ name: a, role: viewer, token: short }] }', 'auth.tokens[0].token'],
    ['auth: { tokens: [{ name: a, role: viewer, tokenEnv: MISSING }] }', 'auth.tokens[0].tokenEnv'],
    ['streams: { max: 0 }', 'streams.max'],
    [
      'auth: { tokens: [{ name: a, role: viewer, token: "0123456789abcdef" }, { name: b, role: operator, token: "0123456789abcdef" }] }',
      'auth.tokens[1].token',
    ],
    ['evidence: { publicUrl: "https://v.example" }', 'evidence.httpAddress'],
    ['rules: { profiles: { default: x.yaml } }', 'rules.profiles.default'],
    ['- not a mapping', '(file)'],
  ])('names the key of %j', (text, key) => {
    expect(keyOf(() => loadServeConfig(file(text), {}))).toBe(key);
  });

  it('places cameras in their sites and zones, and names a camera in two sites', () => {
    const config = loadApiConfig(
      file(
        [
          'sites:',
          '  - id: hq',
          '    zones:',
          '      - { id: lobby, streams: [cam-door, cam-desk] }',
          '    streams: [cam-yard]',
        ].join('\n'),
      ),
      {},
    );
    expect(config.sites.placementOf('cam-desk')).toEqual({ site: 'hq', zone: 'lobby' });
    expect(config.sites.placementOf('cam-yard')).toEqual({ site: 'hq' });
    expect(config.sites.detectionKey('cam-door')).toBe('site/hq');
    expect(loadApiConfig(undefined, {}).sites.sites).toEqual([]);
    const twice = file(
      ['sites:', '  - { id: hq, streams: [cam-a] }', '  - { id: depot, streams: [cam-a] }'].join(
        '\n',
      ),
    );
    expect(keyOf(() => loadApiConfig(twice, {}))).toBe('sites[1].streams[0]');
  });

  it('says which file cannot be read or parsed', () => {
    expect(keyOf(() => loadServeConfig(join(dir, 'missing.yaml'), {}))).toBe('--config');
    expect(keyOf(() => loadServeConfig(file('grpc: [unclosed'), {}))).toBe('--config');
  });
});
