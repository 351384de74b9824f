export * from './config.error';
export * from './config.schema';
export * from './service-config.schema';
