export * from './fixtures';
export * from './strict-mock';
export * from './grpc-client';
export * from './detector-frame';
