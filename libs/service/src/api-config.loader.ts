import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { API_ROLES, type ApiRole, type ApiToken, type GrpcServerConfig } from '@app/api';
import type { SiteDirectory } from '@app/contracts';
import {
  ConfigError,
  ConfigReader,
  type Env,
  type VigilConfig,
  loadConfig,
  parseSites,
  loadDatabaseUrl,
} from '@app/config';
import { type WebhookSubscription, parseWebhookSubscriptions } from '@app/webhooks';

/**
 * The parts of Vigil that face users (gRPC API, history, evidence, webhooks): one config file
 * (YAML or JSON) plus the environment, validated once. `vigil serve` reads all of it; in the
 * microservice deployment ingest, inference and fusion read the same file and use their parts.
 */
export interface ApiConfig {
  /** Absent: no gRPC server (a microservice only serves when given an address). */
  grpc?: GrpcServerConfig;
  tokens: ApiToken[];
  /** `mediaRoots`: the folders whose files StartStream may play (none: no local files). */
  streams: { max: number; mediaRoots: string[] };
  analysis: { maxClipBytes: number; maxConcurrent: number };
  /**
   * Sites and zones of cameras (`sites`): site rules span a site's cameras, whose detections
   * are keyed by site. Empty when the file has none.
   */
  sites: SiteDirectory;
  /** Named rules files a stream may choose besides the default rules. */
  rulesProfiles: Record<string, string>;
  /** The file's `rules.default`; VIGIL_RULES_FILE wins over it, the shipped rules are the fallback. */
  rulesFile?: string;
  /**
   * `path`: the SQLite file, used unless `databaseUrl` (VIGIL_DATABASE_URL) names a PostgreSQL
   * shared by replicas.
   */
  history: { path: string; databaseUrl?: string; maxAgeDays: number; maxEvents: number };
  evidence: {
    dir: string;
    maxAgeDays: number;
    maxBytes: number;
    /** How long an alert waits for its evidence before it goes out without it. */
    timeoutMs: number;
    /** Base URL webhook bodies link evidence under; no links when unset. */
    publicUrl?: string;
    /** Address of the HTTP server that serves those links. */
    httpAddress?: string;
    /** HMAC key of the links; required with publicUrl. */
    linkSecret?: string;
    linkTtlSec: number;
  };
  webhooks: WebhookSubscription[];
  /** The web console and its JSON API; absent: not served (`off`, or no address given). */
  http?: { address: string; secureCookie: boolean };
}

/** `vigil serve`: the API parts plus the pipeline's own settings. */
export interface ServeConfig extends ApiConfig {
  vigil: VigilConfig;
  grpc: GrpcServerConfig;
  /** Where /metrics is served (VIGIL_METRICS_ADDRESS, host:port; `off` for nowhere). */
  metricsAddress?: string;
}

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

export const DEFAULT_SERVE_ADDRESS = '127.0.0.1:50051';
export const DEFAULT_CONSOLE_ADDRESS = '127.0.0.1:8080';

/** `vigil serve`'s config: the API file with a gRPC address always set (loopback by default). */
export function loadServeConfig(
  file: string | undefined,
  env: Env,
  overrides: Partial<VigilConfig> = {},
): ServeConfig {
  const api = loadApiConfig(file, env, DEFAULT_SERVE_ADDRESS, DEFAULT_CONSOLE_ADDRESS);
  // --rules, then VIGIL_RULES_FILE, then the file's rules.default, then the shipped rules.
  const fileRules = env.VIGIL_RULES_FILE || overrides.rulesFile ? undefined : api.rulesFile;
  const metrics = env.VIGIL_METRICS_ADDRESS || DEFAULT_METRICS_ADDRESS;
  if (metrics !== 'off' && !/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/.test(metrics)) {
    throw new ConfigError('VIGIL_METRICS_ADDRESS', `must be host:port or off, got "${metrics}"`);
  }
  return {
    ...api,
    grpc: api.grpc!,
    ...(metrics === 'off' ? {} : { metricsAddress: metrics }),
    vigil: loadConfig(env, { ...overrides, ...(fileRules ? { rulesFile: fileRules } : {}) }),
  };
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export function defaultDataDir(env: Env): string {
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(data, 'vigil');
}

/**
 * Reads the file (when given) and the environment; the environment wins where both set a value.
 * `rulesFile` is the file's `rules.default`, resolved against the file's folder.
 */
export function loadApiConfig(
  file: string | undefined,
  env: Env,
  defaultAddress?: string,
  defaultHttpAddress?: string,
): ApiConfig {
  const raw = file ? readConfigFile(file) : {};
  const base = file ? dirname(resolve(file)) : process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p.replace(/^~(?=\/)/, homedir())));
  const root = new ConfigReader(raw, '');

  const grpc = root.object('grpc');
  const tls = grpc.object('tls');
  const certFile = tls.string('certFile');
  const keyFile = tls.string('keyFile');
  const caFile = tls.string('caFile');
  const requireClientCert = tls.boolean('requireClientCert') ?? false;
  tls.done();
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError('grpc.tls', 'needs both certFile and keyFile');
  }
  if (requireClientCert && !caFile) {
    throw new ConfigError('grpc.tls.caFile', 'is required with requireClientCert (mutual TLS)');
  }
  const address = env.VIGIL_GRPC_ADDRESS || grpc.string('address') || defaultAddress;
  const grpcConfig: GrpcServerConfig = {
    address: address ?? '',
    maxMessageBytes: grpc.integer('maxMessageBytes', 64 * 1024, 256 * MiB) ?? 8 * MiB,
    ...(certFile && keyFile
      ? {
          tls: {
            certFile: path(certFile),
            keyFile: path(keyFile),
            ...(caFile ? { caFile: path(caFile) } : {}),
            requireClientCert,
          },
        }
      : {}),
  };
  grpc.done();
  if (address !== undefined && !/^[^\s]+:\d{1,5}$/.test(grpcConfig.address)) {
    throw new ConfigError('grpc.address', `"${grpcConfig.address}" is not host:port`);
  }

  const auth = root.object('auth');
  const tokens = auth.list('tokens').map((entry, i) => token(entry, `auth.tokens[${i}]`, env));
  auth.done();
  const names = new Set<string>();
  const values = new Set<string>();
  tokens.forEach((t, i) => {
    // One token, one identity: the same secret under two roles would grant the first listed.
    if (values.has(t.token)) {
      throw new ConfigError(`auth.tokens[${i}].token`, 'is the same as an earlier token');
    }
    values.add(t.token);
    if (names.has(t.name))
      throw new ConfigError(`auth.tokens[${i}].name`, `"${t.name}" is used twice`);
    names.add(t.name);
  });

  const streams = root.object('streams');
  const maxStreams = streams.integer('max', 1, 10_000) ?? 16;
  const fileRoots = streams.list('mediaRoots').map((root, i) => {
    if (typeof root !== 'string' || root === '') {
      throw new ConfigError(`streams.mediaRoots[${i}]`, 'must be a folder path');
    }
    return path(root);
  });
  streams.done();
  // VIGIL_MEDIA_ROOTS (folders separated by ':') wins over the file, as every env setting does.
  const mediaRoots =
    env.VIGIL_MEDIA_ROOTS !== undefined
      ? env.VIGIL_MEDIA_ROOTS.split(delimiter)
          .filter((r) => r !== '')
          .map((r) => resolve(r))
      : fileRoots;

  const analysis = root.object('analysis');
  const analysisConfig = {
    maxClipBytes: analysis.integer('maxClipBytes', 1, 64 * GiB) ?? 2 * GiB,
    maxConcurrent: analysis.integer('maxConcurrent', 1, 64) ?? 2,
  };
  analysis.done();

  const rules = root.object('rules');
  const profiles = rules.object('profiles');
  const rulesProfiles: Record<string, string> = {};
  for (const name of Object.keys((rules.raw('profiles') as object | undefined) ?? {})) {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name) || name === 'default') {
      throw new ConfigError(
        profiles.key(name),
        'profile names are 1-64 of A-Z a-z 0-9 . _ - and not "default"',
      );
    }
    rulesProfiles[name] = path(profiles.string(name)!);
  }
  profiles.done();
  const rulesFile = rules.string('default');
  rules.done();

  const dataDir = env.VIGIL_DATA_DIR || defaultDataDir(env);
  const history = root.object('history');
  const historyConfig = {
    path: path(history.string('path') ?? join(dataDir, 'history.sqlite')),
    ...optional('databaseUrl', loadDatabaseUrl(env)),
    maxAgeDays: history.number('maxAgeDays', 0.001, 36_500) ?? 30,
    maxEvents: history.integer('maxEvents', 1, 1e9) ?? 100_000,
  };
  history.done();

  const evidence = root.object('evidence');
  const publicUrl = evidence.string('publicUrl');
  const evidenceConfig = {
    dir: path(evidence.string('dir') ?? join(dataDir, 'evidence')),
    maxAgeDays: evidence.number('maxAgeDays', 0.001, 36_500) ?? 30,
    maxBytes: evidence.integer('maxBytes', MiB, 1024 * GiB) ?? 10 * GiB,
    timeoutMs: evidence.integer('timeoutMs', 100, 60_000) ?? 3000,
    linkTtlSec: evidence.integer('linkTtlSec', 60, 365 * 86_400) ?? 7 * 86_400,
    ...(publicUrl ? { publicUrl: publicUrl.replace(/\/+$/, '') } : {}),
    ...optional('httpAddress', evidence.string('httpAddress')),
    ...optional('linkSecret', secret(evidence, 'linkSecret', env)),
  };
  evidence.done();
  if (publicUrl) {
    if (!/^https?:\/\//.test(publicUrl)) {
      throw new ConfigError('evidence.publicUrl', 'must be an http(s) URL');
    }
    if (!evidenceConfig.httpAddress) {
      throw new ConfigError(
        'evidence.httpAddress',
        'is required with publicUrl (where links are served)',
      );
    }
    if (!evidenceConfig.linkSecret || evidenceConfig.linkSecret.length < 16) {
      throw new ConfigError(
        'evidence.linkSecret',
        'of at least 16 characters is required with publicUrl',
      );
    }
  }

  const sites = parseSites(root.raw('sites'));

  const webhooks = parseWebhookSubscriptions(root.raw('webhooks') ?? [], 'webhooks', env);

  const http = root.object('http');
  const fileHttpAddress = http.string('address');
  const httpAddress = env.VIGIL_HTTP_ADDRESS || fileHttpAddress || defaultHttpAddress;
  const secureCookie = http.boolean('secureCookie') ?? false;
  http.done();
  if (
    httpAddress !== undefined &&
    httpAddress !== 'off' &&
    !/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/.test(httpAddress)
  ) {
    throw new ConfigError(
      env.VIGIL_HTTP_ADDRESS ? 'VIGIL_HTTP_ADDRESS' : 'http.address',
      `must be host:port or off, got "${httpAddress}"`,
    );
  }
  // `vigil edge` reads its own section of the same file (edge-config.loader.ts).
  root.raw('edge');
  root.done();

  return {
    ...(address !== undefined ? { grpc: grpcConfig } : {}),
    ...(rulesFile ? { rulesFile: path(rulesFile) } : {}),
    tokens,
    streams: { max: maxStreams, mediaRoots },
    analysis: analysisConfig,
    sites,
    rulesProfiles,
    history: historyConfig,
    evidence: evidenceConfig,
    webhooks,
    ...(httpAddress && httpAddress !== 'off'
      ? { http: { address: httpAddress, secureCookie } }
      : {}),
  };
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError('--config', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text); // JSON is YAML
  } catch (error) {
    throw new ConfigError(
      '--config',
      `${file} is not valid YAML or JSON: ${(error as Error).message}`,
    );
  }
}

function token(entry: unknown, key: string, env: Env): ApiToken {
  const reader = new ConfigReader(entry, key);
  const name = reader.string('name');
  if (!name) throw new ConfigError(reader.key('name'), 'is required');
  const role = reader.string('role');
  if (!role || !(API_ROLES as readonly string[]).includes(role)) {
    throw new ConfigError(reader.key('role'), `must be one of ${API_ROLES.join(', ')}`);
  }
  const value = secret(reader, 'token', env);
  if (!value || value.length < 16) {
    throw new ConfigError(
      reader.key('token'),
      'of at least 16 characters is required (token or tokenEnv)',
    );
  }
  reader.done();
  return { name, role: role as ApiRole, token: value };
}

/** A secret inline (`<name>`) or, better, from the environment (`<name>Env`). */
function secret(reader: ConfigReader, name: string, env: Env): string | undefined {
  const inline = reader.string(name);
  const fromEnv = reader.string(`${name}Env`);
  if (inline && fromEnv)
    throw new ConfigError(reader.key(name), `give ${name} or ${name}Env, not both`);
  if (!fromEnv) return inline;
  const value = env[fromEnv];
  if (!value)
    throw new ConfigError(reader.key(`${name}Env`), `environment variable ${fromEnv} is not set`);
  return value;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
