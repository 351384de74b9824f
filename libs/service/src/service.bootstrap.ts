import 'reflect-metadata';
import { type DynamicModule, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { type ApiServiceKey, grpcServerOptions } from '@app/api';
import { type ServiceConfig, loadServiceConfig } from '@app/config';
import { PinoNestLogger, createLogger } from '@app/logging';
import { type ApiConfig, loadApiConfig } from './api-config.loader';

/**
 * Starts one microservice: config validated once (a bad value stops it naming the key), then
 * the Nest context with shutdown hooks so SIGTERM finishes in-flight work, commits and leaves
 * the consumer group.
 */
export async function runService(
  app: string,
  module: (config: ServiceConfig, api: ApiConfig) => DynamicModule,
  /** The gRPC services this app serves when VIGIL_GRPC_ADDRESS (or grpc.address) is set. */
  services: readonly ApiServiceKey[] = [],
): Promise<void> {
  let config: ServiceConfig;
  let api: ApiConfig;
  try {
    config = loadServiceConfig(app, process.env);
    // The same file `vigil serve --config` reads; the user-facing parts only.
    api = loadApiConfig(process.env.VIGIL_CONFIG_FILE || undefined, process.env);
  } catch (error) {
    // Logged like the rest (JSON unless on a terminal), at a level no setting can hide.
    createLogger({ app: `vigil-${app}`, level: 'error', fd: 2 }).fatal(
      `cannot start: ${(error as Error).message}`,
    );
    process.exit(2);
  }
  // JSON lines on stdout (readable ones on a terminal), each with the app and the replica.
  const logger = new PinoNestLogger(
    createLogger({
      app: `vigil-${app}`,
      level: config.logLevel,
      fd: 1,
      base: { instanceId: config.instanceId },
    }),
  );
  // Lines logged before Nest takes the logger over (module factories) go the same way.
  Logger.overrideLogger(logger);
  try {
    const grpc = services.length > 0 ? api.grpc : undefined;
    if (grpc) {
      const server = await NestFactory.createMicroservice<MicroserviceOptions>(
        module(config, api),
        {
          ...grpcServerOptions(grpc, services),
          logger,
          abortOnError: false,
        },
      );
      server.enableShutdownHooks();
      await server.listen();
      if (api.tokens.length === 0) {
        logger.warn(`no API tokens configured: anyone who reaches ${grpc.address} can use the API`);
      }
    } else {
      const context = await NestFactory.createApplicationContext(module(config, api), {
        logger,
        abortOnError: false,
      });
      context.enableShutdownHooks();
    }
    logger.log(
      `${app} running as ${config.instanceId} on ${config.kafka.brokers.join(',')}` +
        (grpc ? `; gRPC on ${grpc.address}` : ''),
    );
  } catch (error) {
    logger.error(`cannot start: ${(error as Error).message}`, (error as Error).stack);
    process.exit(1);
  }
}
