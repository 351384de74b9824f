import 'reflect-metadata';
import { ConsoleLogger, type DynamicModule, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type ServiceConfig, loadServiceConfig } from '@app/config';

const LEVELS: Record<ServiceConfig['logLevel'], LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  log: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * Starts one microservice: config validated once (a bad value stops it naming the key), then
 * the Nest context with shutdown hooks so SIGTERM finishes in-flight work, commits and leaves
 * the consumer group.
 */
export async function runService(
  app: string,
  module: (config: ServiceConfig) => DynamicModule,
): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadServiceConfig(app, process.env);
  } catch (error) {
    process.stderr.write(`vigil-${app}: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const logger = new ConsoleLogger(`vigil-${app}`, {
    logLevels: LEVELS[config.logLevel],
    timestamp: true,
  });
  try {
    const context = await NestFactory.createApplicationContext(module(config), {
      logger,
      abortOnError: false,
    });
    context.enableShutdownHooks();
    logger.log(`${app} running as ${config.instanceId} on ${config.kafka.brokers.join(',')}`);
  } catch (error) {
    logger.error(`cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
}
