// LD-Pruner scoring: settings, the scoring job (in process; src/worker/client.ts runs it in the worker),
// the events it reports, score files (read, merge), faithfulness checks, and text rendering. Import from here.
export { runScoreJob, type ScoreJobOptions, type ScoreJobResult } from './job';
export { candidateResult, candidateUpdate, type CandidateResult, type CandidateUpdate, type ScoreRequest, type ScoringEvent, type ScoringProgress, type ScoringSummary } from './events';
export { resolveSettings, parseBudget, parseShard, DEFAULT_SETTINGS, EP_CHOICES, type ScoreSettings, type EpRequest, type OptLevel, type IterativeBudget } from './settings';
export { readScoreFile, readScoreFileIfPresent, writeScoreFile, ranked, SCORE_FORMAT, type ScoreFile, type ScoredCandidate, type IterativeReport, type IterativeStep } from './score-file';
export { mergeScoreFiles } from './merge';
export { runFaithfulness, renderFaithfulness, pickNonOverlapping, FAITHFULNESS_SCHEMA, type FaithfulnessReport, type FaithfulnessOptions } from './faithfulness';
export { renderRanking, renderCandidates, renderIterative } from './format';
export { resolveTarget, defaultScoreFile, type ScoreTarget } from './target';
export { VARIANTS, type ScoreVariant } from './stats';
export { withProvider, describeEp, type EpReport } from './ep';
