import { Logger, type Provider } from '@nestjs/common';
import { KafkaBus, type KafkaBusOptions } from '@app/bus';
import type { ServiceConfig } from '@app/config';
import { Topics } from '@app/contracts';
import { VigilMetrics } from '@app/metrics';
import { BUS, SERVICE_CONFIG } from './service.tokens';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Media is only worth keeping while it can still be processed; events are the product. */
export const RETENTION_MS: Record<string, number> = {
  [Topics.audio.name]: HOUR,
  [Topics.video.name]: HOUR,
  [Topics.features.name]: HOUR,
  [Topics.detections.name]: DAY,
  // As long as the detections it comes behind: fusion stores it on arrival.
  [Topics.edgeEvidence.name]: DAY,
  [Topics.events.name]: 30 * DAY,
  [Topics.streamStatus.name]: 7 * DAY,
  [Topics.streamCommands.name]: 7 * DAY,
};

/** The bus settings every Kafka client of Vigil derives from the validated service config. */
export function kafkaBusOptions(config: ServiceConfig): KafkaBusOptions {
  return {
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    partitions: config.kafka.partitions,
    replicationFactor: config.kafka.replicationFactor,
    ssl: config.kafka.ssl,
    ...(config.kafka.sslCa ? { sslCa: config.kafka.sslCa } : {}),
    sasl: config.kafka.sasl,
    retentionMs: RETENTION_MS,
  };
}

export function kafkaBusProvider(partitionsConsumedConcurrently = 1): Provider {
  return {
    provide: BUS,
    inject: [SERVICE_CONFIG, VigilMetrics],
    useFactory: async (config: ServiceConfig, metrics: VigilMetrics) => {
      const logger = new Logger('kafka');
      const bus = new KafkaBus({
        ...kafkaBusOptions(config),
        partitionsConsumedConcurrently,
        logger,
        observer: metrics.busObserver,
      });
      await bus.connect();
      return bus;
    },
  };
}
