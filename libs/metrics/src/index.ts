export * from './vigil.metrics';
export * from './metrics.http-server';
