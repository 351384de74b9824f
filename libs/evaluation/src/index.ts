export * from './eval-labels';
export * from './eval-labels.parser';
export * from './eval.scorer';
export * from './eval.bars';
export * from './calibration/window-scores';
export * from './calibration/threshold.sweep';
export * from './calibration/grouped.cross-validation';
export * from './calibration/logistic.head';
