import { readFileSync } from 'node:fs';
import { ServerCredentials, type Server } from '@grpc/grpc-js';
import {
  type Options as LoaderOptions,
  type PackageDefinition,
  loadSync,
} from '@grpc/proto-loader';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { type GrpcOptions, Transport } from '@nestjs/microservices';
import { protosDir } from '@app/contracts';
import { reflectionService } from './reflection-descriptors';

/** The services Vigil serves; each app picks the ones it owns. */
export const API_SERVICES = {
  streams: { name: 'StreamService', file: 'stream_service.proto' },
  events: { name: 'EventService', file: 'event_service.proto' },
  analysis: { name: 'AnalysisService', file: 'analysis_service.proto' },
  inference: { name: 'InferenceService', file: 'inference_service.proto' },
  webhooks: { name: 'WebhookService', file: 'webhook_service.proto' },
} as const;
export type ApiServiceKey = keyof typeof API_SERVICES;

export const API_PACKAGE = 'vigil.v1';

export interface GrpcTlsConfig {
  certFile: string;
  keyFile: string;
  /** CA bundle for client certificates; with `requireClientCert`, mutual TLS. */
  caFile?: string;
  requireClientCert?: boolean;
}

export interface GrpcServerConfig {
  /** host:port; port 0 picks a free one. */
  address: string;
  tls?: GrpcTlsConfig;
  /** Larger messages are refused with RESOURCE_EXHAUSTED before any handler runs. */
  maxMessageBytes: number;
}

/**
 * How our code (and a TypeScript client with proto-loader) sees messages: camelCase fields,
 * enums by name, 64-bit ints as numbers (ms timestamps stay far below 2^53), defaults filled
 * in, and `oneof` names set. The wire and reflection know only the .proto's own names.
 */
export const PROTO_LOADER_OPTIONS: LoaderOptions = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The service's .proto, as a path under protos/. */
export function apiProtoFile(service: ApiServiceKey): string {
  return `vigil/v1/${API_SERVICES[service].file}`;
}

/**
 * One package definition per set of services: what Nest binds and decodes with. Reflection
 * describes the same files from their source instead (reflection-descriptors).
 */
export function apiPackageDefinition(services: readonly ApiServiceKey[]): PackageDefinition {
  return loadSync([...services.map(apiProtoFile), healthProtoPath], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [protosDir()],
  });
}

export function serverCredentials(tls: GrpcTlsConfig | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.caFile ? readFileSync(tls.caFile) : null,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    tls.requireClientCert ?? false,
  );
}

/**
 * The one set of transport options for a Vigil gRPC server: `vigil serve`, the ingest and
 * fusion services and the e2e tests all build their server from it. Besides Nest's
 * controllers it adds the standard grpc.health.v1 service and server reflection, so
 * `grpcurl` and Kubernetes probes work without our .proto files.
 */
export function grpcServerOptions(
  config: GrpcServerConfig,
  services: readonly ApiServiceKey[],
  health: HealthImplementation = new HealthImplementation(),
): GrpcOptions {
  const packageDefinition = apiPackageDefinition(services);
  const reflection = reflectionService(
    services.map(apiProtoFile),
    services.map((s) => `${API_PACKAGE}.${API_SERVICES[s].name}`),
  );
  for (const key of services)
    health.setStatus(`${API_PACKAGE}.${API_SERVICES[key].name}`, 'SERVING');
  health.setStatus('', 'SERVING');
  return {
    transport: Transport.GRPC,
    options: {
      url: config.address,
      package: API_PACKAGE,
      packageDefinition,
      credentials: serverCredentials(config.tls),
      maxReceiveMessageLength: config.maxMessageBytes,
      maxSendMessageLength: config.maxMessageBytes,
      gracefulShutdown: true,
      // Pings find clients that vanished (a laptop closed mid-upload, a dead VMS) so their calls
      // end instead of holding an analysis slot or a subscription for weeks.
      keepalive: { keepaliveTimeMs: 60_000, keepaliveTimeoutMs: 20_000 },
      onLoadPackageDefinition: (_definition: PackageDefinition, server: Server) => {
        reflection.addToServer(server);
        health.addToServer(server);
      },
    },
  };
}
