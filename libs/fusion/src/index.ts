export * from './event-id';
export * from './fusion.engine';
export * from './rules.loader';
export * from './rules.schema';
export * from './detection.segmenter';
export * from './site.engine';
