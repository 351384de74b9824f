import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  ConfigError,
  ConfigReader,
  type Env,
  type ServiceConfig,
  type VigilConfig,
  loadConfig,
  loadServiceConfig,
  parseSites,
} from '@app/config';
import type { SiteDirectory } from '@app/contracts';
import { defaultDataDir, readConfigFile } from './api-config.loader';

/** A stream an edge node runs from its start: one of the cameras beside it. */
export interface EdgeStream {
  streamId: string;
  source: string;
  live: boolean;
  loop: boolean;
  fps?: number;
  labels: Record<string, string>;
}

/** `vigil edge`: the Kafka it sends upstream to, its spool, its streams, health and metrics. */
export interface EdgeConfig {
  /** Kafka (TLS/SASL), health port and the pipeline's settings, as the services read them. */
  service: ServiceConfig;
  /** Names this node in the ids of what it sends (`x-vigil-edge-seq`). */
  edgeId: string;
  spool: { dir: string; maxBytes: number; maxAgeSec: number; fsync: boolean };
  /**
   * Incidents' evidence made here and sent upstream: the media kept for it (bytes, across all
   * streams), and the rules central fusion decides these streams with (VIGIL_RULES_FILE, else
   * the file's rules.default, else the shipped rules), so the edge knows which versions it needs.
   */
  evidence: { enabled: boolean; bufferBytes: number; rulesFile?: string };
  streams: EdgeStream[];
  /**
   * The sites of the shared file (`sites`): a site camera's detections go upstream keyed by its
   * site, as the inference service keys them, so central fusion's site rules see every camera
   * of the site on one partition, whichever node heard it.
   */
  sites: SiteDirectory;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** The sections of the shared config file; the edge reads `edge` and checks the rest are known. */
const FILE_SECTIONS = new Set([
  'grpc',
  'auth',
  'streams',
  'analysis',
  'rules',
  'history',
  'evidence',
  'webhooks',
  'http',
  'sites',
  'edge',
]);

/**
 * The `edge` section of the config file (YAML or JSON) plus the environment the services read
 * (KAFKA_BROKERS, KAFKA_SSL, KAFKA_SASL_*, VIGIL_HEALTH_PORT…), validated once:
 *
 * ```yaml
 * edge:
 *   id: site-12              # env VIGIL_EDGE_ID wins; default: the host name
 *   spool: { dir: /var/lib/vigil/spool, maxBytes: 1073741824, maxAgeSec: 604800, fsync: true }
 *   evidence: { enabled: true, bufferBytes: 67108864 } # incidents' evidence sent upstream
 *   streams:
 *     - { id: lobby, source: rtsp://10.0.0.12/stream1, labels: { site: HQ } }
 * ```
 */
export function loadEdgeConfig(
  file: string | undefined,
  env: Env,
  overrides: Partial<VigilConfig> = {},
): EdgeConfig {
  const service: ServiceConfig = {
    ...loadServiceConfig('edge', env),
    ...loadConfig(env, overrides),
  };
  const raw = file ? readConfigFile(file) : {};
  const base = file ? dirname(resolve(file)) : process.cwd();
  const root = new ConfigReader(raw, '');
  if (raw && typeof raw === 'object') {
    for (const key of Object.keys(raw)) {
      if (!FILE_SECTIONS.has(key)) throw new ConfigError(key, 'is not a known setting');
    }
  }
  const edge = root.object('edge');
  const edgeId = env.VIGIL_EDGE_ID || edge.string('id') || hostname();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(edgeId)) {
    throw new ConfigError(
      env.VIGIL_EDGE_ID ? 'VIGIL_EDGE_ID' : 'edge.id',
      'must be 1-64 letters, digits, dots, dashes or underscores',
    );
  }
  const spool = edge.object('spool');
  const dir = env.VIGIL_EDGE_SPOOL_DIR || spool.string('dir');
  const spoolConfig = {
    dir: dir
      ? isAbsolute(dir)
        ? dir
        : resolve(base, dir)
      : join(env.VIGIL_DATA_DIR || defaultDataDir(env), 'edge-spool'),
    maxBytes: spool.integer('maxBytes', 4 * MiB, 1024 * GiB) ?? GiB,
    maxAgeSec: spool.integer('maxAgeSec', 60, 90 * 86_400) ?? 7 * 86_400,
    fsync: spool.boolean('fsync') ?? true,
  };
  spool.done();
  const evidence = edge.object('evidence');
  const rules = root.object('rules');
  const fileRules = rules.string('default');
  const rulesFile =
    service.rulesFile ??
    (fileRules ? (isAbsolute(fileRules) ? fileRules : resolve(base, fileRules)) : undefined);
  const evidenceConfig = {
    enabled: evidence.boolean('enabled') ?? true,
    bufferBytes: evidence.integer('bufferBytes', MiB, 16 * GiB) ?? 64 * MiB,
    ...(rulesFile ? { rulesFile } : {}),
  };
  evidence.done();
  const seen = new Set<string>();
  const streams = edge.list('streams').map((entry, i) => {
    const reader = new ConfigReader(entry, `edge.streams[${i}]`);
    const streamId = reader.string('id');
    if (!streamId || !/^[A-Za-z0-9._:-]{1,128}$/.test(streamId)) {
      throw new ConfigError(reader.key('id'), 'is required: 1-128 letters, digits or ._:-');
    }
    if (seen.has(streamId))
      throw new ConfigError(reader.key('id'), `"${streamId}" is listed twice`);
    seen.add(streamId);
    const source = reader.string('source');
    if (!source) throw new ConfigError(reader.key('source'), 'is required');
    const labelsReader = reader.object('labels');
    const labels: Record<string, string> = {};
    for (const name of Object.keys((reader.raw('labels') as object | undefined) ?? {})) {
      const value = labelsReader.string(name);
      if (value !== undefined) labels[name] = value;
    }
    const fps = reader.number('fps', 0.1, 60);
    const stream: EdgeStream = {
      streamId,
      source,
      live: reader.boolean('live') ?? true,
      loop: reader.boolean('loop') ?? false,
      ...(fps !== undefined ? { fps } : {}),
      labels,
    };
    reader.done();
    return stream;
  });
  edge.done();
  const sites = parseSites(root.raw('sites'));
  return { service, edgeId, spool: spoolConfig, evidence: evidenceConfig, streams, sites };
}
