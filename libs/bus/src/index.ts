export * from './bus.interface';
export * from './memory-bus';
export * from './partitioner';
export * from './kafka-bus';
export * from './commit.tracker';
export * from './disk.spool';
export * from './uplink.forwarder';
export * from './kafka-uplink.sink';
