import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServiceConfig } from './service-config.schema';

describe('loadServiceConfig', () => {
  it('reads Kafka and health settings with defaults', () => {
    const config = loadServiceConfig('inference', {
      KAFKA_BROKERS: '10.0.0.1:9092, kafka:9093',
      VIGIL_INSTANCE_ID: 'pod-1',
    });
    expect(config.kafka).toEqual({
      brokers: ['10.0.0.1:9092', 'kafka:9093'],
      clientId: 'vigil-inference',
      partitions: 6,
      replicationFactor: 1,
      ssl: false,
    });
    expect(config).toMatchObject({
      app: 'inference',
      healthPort: 8080,
      instanceId: 'pod-1',
      fps: 5,
      streamIdle: { stalledSec: 30, endedSec: 120, edgeEndedSec: 86_400 },
    });
  });

  it('reads the stream idle timeouts, the end no sooner than the stall', () => {
    const env = { KAFKA_BROKERS: 'k:9092', VIGIL_STREAM_STALLED_SEC: '5' };
    expect(
      loadServiceConfig('fusion', { ...env, VIGIL_STREAM_ENDED_SEC: '20' }).streamIdle,
    ).toEqual({ stalledSec: 5, endedSec: 20, edgeEndedSec: 86_400 });
    expect(
      loadServiceConfig('fusion', { ...env, VIGIL_EDGE_STREAM_ENDED_SEC: '3600' }).streamIdle,
    ).toMatchObject({ edgeEndedSec: 3600 });
    expect(() =>
      loadServiceConfig('fusion', { ...env, VIGIL_EDGE_STREAM_ENDED_SEC: '100' }),
    ).toThrow(
      'VIGIL_EDGE_STREAM_ENDED_SEC: must be at least VIGIL_STREAM_ENDED_SEC (120), got 100',
    );
    expect(() => loadServiceConfig('fusion', { ...env, VIGIL_STREAM_ENDED_SEC: '2' })).toThrow(
      'VIGIL_STREAM_ENDED_SEC: must be at least VIGIL_STREAM_STALLED_SEC (5), got 2',
    );
  });

  it('reads the ingest lag bound (0 is off, else at least 2 s) and the live frame age bound', () => {
    const env = { KAFKA_BROKERS: 'k:9092' };
    expect(loadServiceConfig('ingest', env)).toMatchObject({
      ingestMaxLagSec: 10,
      liveFrameMaxAgeMs: 1000,
    });
    expect(
      loadServiceConfig('ingest', { ...env, VIGIL_INGEST_MAX_LAG_SEC: '0' }).ingestMaxLagSec,
    ).toBe(0);
    expect(() => loadServiceConfig('ingest', { ...env, VIGIL_INGEST_MAX_LAG_SEC: '1' })).toThrow(
      /VIGIL_INGEST_MAX_LAG_SEC/,
    );
    expect(() =>
      loadServiceConfig('inference', { ...env, VIGIL_LIVE_FRAME_MAX_AGE_MS: '10' }),
    ).toThrow(/VIGIL_LIVE_FRAME_MAX_AGE_MS/);
  });

  it('reads the live audio chunk of Kafka ingest: 100 ms unless set, 20 ms at the least', () => {
    const env = { KAFKA_BROKERS: 'k:9092' };
    expect(loadServiceConfig('ingest', env).liveAudioChunkMs).toBe(100);
    expect(
      loadServiceConfig('ingest', { ...env, VIGIL_LIVE_AUDIO_CHUNK_MS: '20' }).liveAudioChunkMs,
    ).toBe(20);
    expect(() => loadServiceConfig('ingest', { ...env, VIGIL_LIVE_AUDIO_CHUNK_MS: '5' })).toThrow(
      /VIGIL_LIVE_AUDIO_CHUNK_MS/,
    );
  });

  it('takes SASL credentials together', () => {
    const config = loadServiceConfig('fusion', {
      KAFKA_BROKERS: 'k:9092',
      KAFKA_SASL_USERNAME: 'vigil',
      KAFKA_SASL_PASSWORD: 's3cret',
      KAFKA_SSL: 'true',
    });
    expect(config.kafka).toMatchObject({
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'vigil', password: 's3cret' },
    });
  });

  it("reads a private CA's certificates once, which implies TLS", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-ca-'));
    try {
      const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      writeFileSync(join(dir, 'ca.pem'), pem);
      writeFileSync(join(dir, 'key.pem'), '-----BEGIN PRIVATE KEY-----\n');
      const env = { KAFKA_BROKERS: 'k:9093', KAFKA_SSL_CA_FILE: join(dir, 'ca.pem') };
      expect(loadServiceConfig('edge', env).kafka).toMatchObject({ ssl: true, sslCa: pem });
      expect(() =>
        loadServiceConfig('edge', { ...env, KAFKA_SSL_CA_FILE: join(dir, 'gone.pem') }),
      ).toThrow(/KAFKA_SSL_CA_FILE: cannot be read/);
      expect(() =>
        loadServiceConfig('edge', { ...env, KAFKA_SSL_CA_FILE: join(dir, 'key.pem') }),
      ).toThrow(/KAFKA_SSL_CA_FILE: holds no PEM certificate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{}, /KAFKA_BROKERS: is required/],
    [{ KAFKA_BROKERS: 'kafka' }, /KAFKA_BROKERS: "kafka" is not host:port/],
    [{ KAFKA_BROKERS: 'k:1', VIGIL_PARTITIONS: 'six' }, /VIGIL_PARTITIONS: must be an integer/],
    [{ KAFKA_BROKERS: 'k:1', VIGIL_HEALTH_PORT: '70000' }, /VIGIL_HEALTH_PORT/],
    [{ KAFKA_BROKERS: 'k:1', KAFKA_SASL_USERNAME: 'u' }, /KAFKA_SASL_PASSWORD: is required/],
    [{ KAFKA_BROKERS: 'k:1', KAFKA_SSL: 'yes' }, /KAFKA_SSL: must be true or false/],
    [{ KAFKA_BROKERS: 'k:1', VIGIL_FPS: '-1' }, /VIGIL_FPS/],
  ])('stops on a bad value, naming the key (%j)', (env, message) => {
    expect(() => loadServiceConfig('ingest', env)).toThrow(message);
  });
});
