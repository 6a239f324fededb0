// Pruning: remove the chosen candidates from a model or pipeline, keep every remaining weight, check
// the result and record what was done. The VS Code extension calls pruneModel; the CLI wraps it.
export * from './types';
export { pruneModel, PruneCheckError, CREATED_BY } from './prune';
export { parseTargetFraction, selectForPrune, savingsOf, contains, type Selection, type Savings } from './select';
export { buildPruned, fixValueInfo, type BuiltModel } from './build';
export { checkReread, checkStructure, checkShapes, checkWeights } from './checks';
export { compareLatents, timeInterleaved } from './compare';
export { readPruneRecord } from './record';
export { recordPathFor } from './output';
export { renderPruneSummary } from './format';
export { predictDrop, fitThroughOrigin, describePredicted, UNCALIBRATED_NOTE, type PredictedDrop, type Calibration, type CalibrationPoint, type CalibrationFit } from './predicted';
export { readCalibration, pipelineCalibration, defaultReportDir, predictForPrune, usableCalibration, calibrationForView } from './calibration';
