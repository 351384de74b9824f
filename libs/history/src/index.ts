export * from './system.clock';
export * from './history.error';
export * from './history.database';
export * from './stored-event.types';
export * from './event.migrations';
export * from './event.repository';
export * from './event-filter.matcher';
