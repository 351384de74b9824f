export * from './classes';
export * from './messages';
export * from './topics';
