export * from './health.server';
export * from './kafka-bus.provider';
export * from './runtime.providers';
export * from './service.bootstrap';
export * from './service.tokens';
export * from './stage.worker';
export * from './api-config.loader';
export * from './incident.desk';
