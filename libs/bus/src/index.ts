export * from './bus.interface';
export * from './memory-bus';
export * from './partitioner';
export * from './kafka-bus';
export * from './commit.tracker';
export * from './message.context';
