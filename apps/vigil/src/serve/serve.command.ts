import { createServer } from 'node:net';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import {
  type ApiServiceKey,
  API_SERVICES,
  LiveCalls,
  grpcServerOptions,
  splitAddress,
} from '@app/api';
import { type VigilConfig, redactDatabaseUrl } from '@app/config';
import { loadServeConfig, type ServeConfig } from '@app/service';
import { ServeModule } from './serve.module';
import { ServeRuntime } from './serve.runtime';
import { stopRequested } from '../cli/stop.signal';

export const SERVE_SERVICES = Object.keys(API_SERVICES) as ApiServiceKey[];

export interface RunningServer {
  /** host:port the gRPC API listens on (port 0 in the config is resolved). */
  grpcAddress: string;
  evidenceAddress?: string;
  /** host:port of the web console, when served. */
  consoleAddress?: string;
  runtime: ServeRuntime;
  close(): Promise<void>;
}

/** Starts `vigil serve` and resolves once it listens; the CLI and the e2e tests share it. */
export async function startServer(
  config: ServeConfig,
  logger: LoggerService | false,
): Promise<RunningServer> {
  const grpcAddress = await resolvePort(config.grpc.address);
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    ServeModule.forRoot(config),
    {
      ...grpcServerOptions({ ...config.grpc, address: grpcAddress }, SERVE_SERVICES),
      logger,
      abortOnError: false,
    },
  );
  try {
    await app.listen();
  } catch (error) {
    // The runtime (pipeline, desk, timers) is already running: stop it, or the CLI hangs.
    await app.close();
    throw error;
  }
  const runtime = app.get(ServeRuntime);
  return {
    grpcAddress,
    evidenceAddress: runtime.desk.evidenceAddress,
    consoleAddress: runtime.desk.consoleAddress,
    runtime,
    close: async () => {
      // grpc-js's graceful shutdown waits for every open call: end the endless ones first.
      app.get(LiveCalls).closeAll();
      await app.close();
    },
  };
}

export async function serve(
  configFile: string | undefined,
  /** What the command line overrides (`--models`, `--precision`). */
  overrides: Partial<VigilConfig>,
  logger: LoggerService,
  out: NodeJS.WritableStream,
): Promise<number> {
  const config = loadServeConfig(configFile, process.env, overrides);
  const server = await startServer(config, logger);
  const tls = config.grpc.tls
    ? config.grpc.tls.requireClientCert
      ? 'mutual TLS'
      : 'TLS'
    : 'plaintext';
  out.write(
    [
      `vigil serve: gRPC on ${server.grpcAddress} (${tls}); services ${SERVE_SERVICES.map((s) => API_SERVICES[s].name).join(', ')}, health, reflection`,
      `  auth: ${config.tokens.length > 0 ? `${config.tokens.length} bearer tokens` : 'OPEN (no tokens configured)'}`,
      `  history: ${config.history.databaseUrl ? redactDatabaseUrl(config.history.databaseUrl) : config.history.path}`,
      `  evidence: ${config.evidence.dir}${server.evidenceAddress ? ` (links served on ${server.evidenceAddress})` : ''}`,
      `  webhooks: ${config.webhooks.length}`,
      `  console: ${server.consoleAddress ? `http://${server.consoleAddress}/` : 'off'}`,
      `  metrics: ${server.runtime.metricsAddress ? `http://${server.runtime.metricsAddress}/metrics` : 'off'}`,
      '',
    ].join('\n'),
  );
  if (config.tokens.length === 0) {
    new Logger('vigil serve').warn(
      'no API tokens configured: anyone who reaches the port can use the API',
    );
  }
  await stopRequested();
  out.write('vigil serve: stopping\n');
  await server.close();
  return 0;
}

/** Port 0 becomes a free port now, so the address we print is the one we bind. */
async function resolvePort(address: string): Promise<string> {
  const [host, port] = splitAddress(address);
  if (port !== 0) return address;
  const free = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const bound = probe.address();
      probe.close(() => resolve(typeof bound === 'object' && bound ? bound.port : 0));
    });
  });
  return `${host.includes(':') ? `[${host}]` : host}:${free}`;
}
