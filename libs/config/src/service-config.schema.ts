import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from './config.error';
import { type VigilConfig, loadConfig } from './config.schema';
import { type Env, boolean, integer, number } from './env.parsers';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  partitions: number;
  replicationFactor: number;
  ssl: boolean;
  /**
   * PEM certificates of the CA(s) the brokers' certificates chain to, read once at start
   * (KAFKA_SSL_CA_FILE): a site's private CA. Node's trusted roots when unset.
   */
  sslCa?: string;
  sasl?: {
    mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    username: string;
    password: string;
  };
}

/** A microservice's configuration: Vigil's, plus how it reaches Kafka and serves health. */
export interface ServiceConfig extends VigilConfig {
  app: string;
  kafka: KafkaSettings;
  /** HTTP port of /health/live and /health/ready; 0 turns the server off. */
  healthPort: number;
  /** This replica, in logs and in the headers of what it publishes. */
  instanceId: string;
  /**
   * Fusion: a stream without detections this long is stalled, then decided as ended; one an
   * edge node sends is decided as ended only after edgeEndedSec (its uplink may be down).
   */
  streamIdle: { stalledSec: number; endedSec: number; edgeEndedSec: number };
  /**
   * Ingest: stream seconds a file may be published ahead of the detections that came back for
   * it (the broker holds that much of a file, not all of it); 0 turns pacing off. At least the
   * audio window plus a little, or audio could wait on a window that needs what it holds back.
   */
  ingestMaxLagSec: number;
  /**
   * Ingest: milliseconds of audio per message of a live run (VIGIL_LIVE_AUDIO_CHUNK_MS). Smaller
   * chunks let a finished window go out sooner (up to one chunk, since its last STFT frame
   * needs 16 ms past its end), but on Kafka every message costs CPU in the producer, the broker
   * and each consumer: 100 ms by default here, where `vigil serve` and `vigil edge` use 20.
   */
  liveAudioChunkMs: number;
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

export function loadServiceConfig(app: string, env: Env): ServiceConfig {
  const base = loadConfig(env);
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0)
    throw new ConfigError('KAFKA_BROKERS', 'is required (host:port[,host:port…])');
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker))
      throw new ConfigError('KAFKA_BROKERS', `"${broker}" is not host:port`);
  }
  const mechanism = env.KAFKA_SASL_MECHANISM;
  if (mechanism && !(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new ConfigError(
      'KAFKA_SASL_MECHANISM',
      `must be one of ${SASL_MECHANISMS.join(', ')}, got "${mechanism}"`,
    );
  }
  const sslCa = readCaFile(env.KAFKA_SSL_CA_FILE);
  const username = env.KAFKA_SASL_USERNAME;
  const password = env.KAFKA_SASL_PASSWORD;
  if ((username && !password) || (!username && password)) {
    throw new ConfigError(
      username ? 'KAFKA_SASL_PASSWORD' : 'KAFKA_SASL_USERNAME',
      'is required with the other SASL setting',
    );
  }
  return Object.freeze({
    ...base,
    app,
    kafka: {
      brokers,
      clientId: env.KAFKA_CLIENT_ID || `vigil-${app}`,
      partitions: integer(env, 'VIGIL_PARTITIONS', 6, 1, 10_000),
      replicationFactor: integer(env, 'VIGIL_REPLICATION_FACTOR', 1, 1, 10),
      ssl: boolean(env, 'KAFKA_SSL', false) || sslCa !== undefined,
      ...(sslCa !== undefined ? { sslCa } : {}),
      ...(username && password
        ? {
            sasl: {
              mechanism: (mechanism ?? 'scram-sha-512') as NonNullable<
                KafkaSettings['sasl']
              >['mechanism'],
              username,
              password,
            },
          }
        : {}),
    },
    healthPort: integer(env, 'VIGIL_HEALTH_PORT', 8080, 0, 65_535),
    instanceId: env.VIGIL_INSTANCE_ID || `${hostname()}-${process.pid}`,
    streamIdle: streamIdle(env),
    ingestMaxLagSec: ingestMaxLag(env),
    liveAudioChunkMs: integer(env, 'VIGIL_LIVE_AUDIO_CHUNK_MS', 100, 20, 1000),
  });
}

/** The CA file's PEM certificates; a file that is missing or holds none stops the process here. */
function readCaFile(path: string | undefined): string | undefined {
  if (!path) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('KAFKA_SSL_CA_FILE', `cannot be read: ${(error as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError('KAFKA_SSL_CA_FILE', `holds no PEM certificate: ${path}`);
  }
  return pem;
}

function ingestMaxLag(env: Env): number {
  const sec = number(env, 'VIGIL_INGEST_MAX_LAG_SEC', 10, 0, 86_400);
  if (sec > 0 && sec < 2) {
    throw new ConfigError('VIGIL_INGEST_MAX_LAG_SEC', `must be 0 (off) or at least 2, got ${sec}`);
  }
  return sec;
}

function streamIdle(env: Env): ServiceConfig['streamIdle'] {
  const stalledSec = number(env, 'VIGIL_STREAM_STALLED_SEC', 30, 1, 86_400);
  const endedSec = number(env, 'VIGIL_STREAM_ENDED_SEC', 120, 1, 86_400);
  if (endedSec < stalledSec) {
    throw new ConfigError(
      'VIGIL_STREAM_ENDED_SEC',
      `must be at least VIGIL_STREAM_STALLED_SEC (${stalledSec}), got ${endedSec}`,
    );
  }
  const edgeEndedSec = number(
    env,
    'VIGIL_EDGE_STREAM_ENDED_SEC',
    Math.max(86_400, endedSec),
    1,
    90 * 86_400,
  );
  if (edgeEndedSec < endedSec) {
    throw new ConfigError(
      'VIGIL_EDGE_STREAM_ENDED_SEC',
      `must be at least VIGIL_STREAM_ENDED_SEC (${endedSec}), got ${edgeEndedSec}`,
    );
  }
  return { stalledSec, endedSec, edgeEndedSec };
}
