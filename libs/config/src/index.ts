export * from './config.error';
export * from './config.schema';
