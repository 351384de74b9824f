export * from './config.error';
export * from './config.schema';
export * from './env.parsers';
export * from './service-config.schema';
export * from './config.reader';
export * from './site-config.schema';
export * from './database-url';
