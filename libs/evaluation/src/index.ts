export * from './eval-labels';
export * from './eval-labels.parser';
export * from './eval.scorer';
export * from './eval.bars';
