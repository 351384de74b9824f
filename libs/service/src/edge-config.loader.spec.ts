import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiConfig } from './api-config.loader';
import { loadEdgeConfig } from './edge-config.loader';

describe('loadEdgeConfig', () => {
  let dir: string;
  const env = { KAFKA_BROKERS: 'central:9093', KAFKA_SSL: 'true', HOME: '/home/x' };
  const file = (text: string) => {
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, text);
    return path;
  };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'edge-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the edge section and the Kafka settings the services read', () => {
    const config = loadEdgeConfig(
      file(`
edge:
  id: site-12
  spool: { dir: spool, maxBytes: 8388608, maxAgeSec: 3600, fsync: false }
  evidence: { enabled: false, bufferBytes: 16777216 }
  streams:
    - { id: lobby, source: rtsp://10.0.0.12/stream1, labels: { site: HQ } }
    - { id: yard, source: /srv/yard.mp4, live: true, loop: true, fps: 2 }
history: { maxAgeDays: 10 }
rules: { default: site-rules.json }
`),
      env,
    );
    expect(config.edgeId).toBe('site-12');
    expect(config.evidence).toEqual({
      enabled: false,
      bufferBytes: 16777216,
      rulesFile: join(dir, 'site-rules.json'),
    });
    expect(config.spool).toEqual({
      dir: join(dir, 'spool'),
      maxBytes: 8388608,
      maxAgeSec: 3600,
      fsync: false,
    });
    expect(config.streams).toEqual([
      {
        streamId: 'lobby',
        source: 'rtsp://10.0.0.12/stream1',
        live: true,
        loop: false,
        labels: { site: 'HQ' },
      },
      { streamId: 'yard', source: '/srv/yard.mp4', live: true, loop: true, fps: 2, labels: {} },
    ]);
    expect(config.service.kafka).toMatchObject({ brokers: ['central:9093'], ssl: true });
  });

  it('defaults the spool under the data folder and the id to the host name', () => {
    const config = loadEdgeConfig(undefined, { ...env, VIGIL_DATA_DIR: '/data' });
    expect(config.spool).toEqual({
      dir: '/data/edge-spool',
      maxBytes: 1024 ** 3,
      maxAgeSec: 7 * 86_400,
      fsync: true,
    });
    expect(config.edgeId.length).toBeGreaterThan(0);
    expect(config.streams).toEqual([]);
    // Evidence is sent by default, decided with the shipped rules unless told otherwise.
    expect(config.evidence).toEqual({ enabled: true, bufferBytes: 64 * 1024 ** 2 });
    expect(
      loadEdgeConfig(undefined, { ...env, VIGIL_RULES_FILE: '/etc/vigil/rules.json' }).evidence
        .rulesFile,
    ).toBe('/etc/vigil/rules.json');
  });

  it('names the key at fault', () => {
    expect(() => loadEdgeConfig(file('edge: { spool: { maxBytes: 10 } }'), env)).toThrow(
      'edge.spool.maxBytes: must be a number between',
    );
    expect(() => loadEdgeConfig(file('edge: { streams: [{ source: x }] }'), env)).toThrow(
      'edge.streams[0].id: is required',
    );
    expect(() =>
      loadEdgeConfig(file('edge: { streams: [{ id: a, source: x }, { id: a, source: y }] }'), env),
    ).toThrow('edge.streams[1].id: "a" is listed twice');
    expect(() => loadEdgeConfig(file('edge: { stream: [] }'), env)).toThrow(
      'edge.stream: is not a known setting',
    );
    expect(() => loadEdgeConfig(file('edge: { evidence: { bufferBytes: 5 } }'), env)).toThrow(
      'edge.evidence.bufferBytes: must be a number between',
    );
    expect(() => loadEdgeConfig(file('edge: { evidence: { on: true } }'), env)).toThrow(
      'edge.evidence.on: is not a known setting',
    );
    expect(() => loadEdgeConfig(file('edges: {}'), env)).toThrow('edges: is not a known setting');
    expect(() => loadEdgeConfig(undefined, { HOME: '/h' })).toThrow('KAFKA_BROKERS');
  });

  it("keys a site camera's detections by its site, as the inference service does", () => {
    const config = loadEdgeConfig(
      file(`
sites:
  - id: hq
    zones: [{ id: lobby, streams: [door, hall] }]
edge:
  streams:
    - { id: door, source: rtsp://10.0.0.2/1 }
    - { id: yard, source: rtsp://10.0.0.3/1 }
`),
      env,
    );
    expect(config.sites.detectionKey('door')).toBe('site/hq');
    expect(config.sites.detectionKey('yard')).toBe('yard');
    expect(() => loadEdgeConfig(file('sites: { hq: 1 }'), env)).toThrow('sites');
  });

  it('shares the file with vigil serve, which leaves the edge section to the edge', () => {
    const path = file('edge: { id: site-1 }\nhistory: { maxAgeDays: 3 }\n');
    expect(loadApiConfig(path, { HOME: '/h' }).history.maxAgeDays).toBe(3);
  });
});
