export * from './fixtures';
export * from './strict-mock';
