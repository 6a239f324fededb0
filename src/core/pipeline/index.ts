// The diffusion pipeline API: run whole exported pipelines (sampling, decoding, metrics).
// Scoring keeps a PipelineRunner open and calls generate() per candidate U-Net.
export { PipelineRunner, describeUnet } from './runner';
export type { Conditioning, GenerateOptions, Generated, Progress, RunnerOptions } from './runner';
export { readPipelineLayout, vaeScaleFactor } from './layout';
export type { LdSurgeonSection, PipelineLayout } from './layout';
export { createScheduler, defaultSchedulerName, parseSchedulerConfig, readSchedulerConfig } from './schedulers';
export type { Scheduler, SchedulerConfig, SchedulerName, StepOptions } from './schedulers';
export { resolveConditions, defaultPrompts, parseConditionIds } from './conditions';
export type { ConditionInput, ResolvedConditions } from './conditions';
export { GaussianStream, sampleSeed } from './noise';
export { classify, formatMetric, readMetricSpec, scoreOutputs } from './metrics';
export type { MetricResult, MetricSpec } from './metrics';
export { fitGaussian, frechetDistance } from './frechet';
export { loadTokenizer } from './tokenizers';
export type { Tokenizer } from './tokenizers';
export { runSampleJob } from './sample-job';
export type { SampleJobOptions, SampleJobResult } from './sample-job';
export { samplesToPng } from './image-grid';
export { compareQuality, latentDistance, measureQuality } from './quality';
export type { LatentDistance, QualityComparison, QualityMetric, QualityOptions, QualityResult, QualitySettings, QualityTarget } from './quality';
