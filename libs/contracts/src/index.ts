export * from './classes';
export * from './messages';
export * from './topics';
export * from './proto.codec';
export * from './protos.locator';
export * from './stream-id';
export * from './event-record.message';
export * from './proto-json.printer';
