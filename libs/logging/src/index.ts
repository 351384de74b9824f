export * from './log.context';
export * from './log.levels';
export * from './log.redactor';
export * from './logger.factory';
export * from './nest.logger';
export * from './pretty.stream';
