export * from './types';
export { findCandidates, selectCandidates, type CandidateOptions } from './candidates';
export { planModification, sameShape } from './modifications';
export { findRegion, type Region } from './regions';
export { applyModifications, buildGatedModel, GATE_INPUT, type AppliedModification, type ApplyResult, type GatedModel } from './apply';
export { cloneModel, surgeryOrder } from './edit';
