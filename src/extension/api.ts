// What activate() returns: the extension's live services. The real-VS-Code tests (test/e2e/suite) read the
// views through it; other extensions may too.
import type { MeasureJobSpec } from './prune/measureJob';
import type { GraphActions, GraphEditorProvider } from './graph/graphEditor';
import type { JobManager } from './jobs/jobManager';
import type { JobsViewProvider } from './jobs/jobsView';
import type { ModelTreeProvider } from './model/modelTree';
import type { PipelineFolders } from './model/pipelineFolders';
import type { ScoreStore } from './score/scoreStore';
import type { RunningJob } from './jobs/jobRunner';
import type { PruneJobSpec } from './prune/pruneJob';
import type { DistillJobSpec } from './distill/distillJob';
import type { DistillTaskProvider } from './distill/distillTasks';
import type { DistillChartPanels } from './distill/distillChart';

export interface LdSurgeonApi {
  jobs: JobManager;
  jobsView: JobsViewProvider;
  modelTree: ModelTreeProvider;
  graphs: GraphEditorProvider;
  pipelines: PipelineFolders;
  scores: ScoreStore;
  workflows: WorkflowsApi;
  /** distillation loss/metric charts (snapshot(id) reads what a run's panel shows) */
  charts: DistillChartPanels;
}

/** The user-facing workflows (Score Operators, Prune Model…, Launch Distillation…), callable without a UI. */
export interface WorkflowsApi {
  graphActions: GraphActions;
  /** starts scoring `target` (a pipeline folder or .onnx) with the settings that apply to it */
  score(target: string): Promise<RunningJob>;
  /** prunes `ids` out of `input`; resolves once the job has started */
  prune(spec: PruneJobSpec): Promise<{ job: RunningJob; outputModel: string }>;
  distill(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }>;
  /** the `ld-surgeon-distill` task provider (createTask builds a runnable task from a definition) */
  distillTasks: DistillTaskProvider;
  /** measures a pipeline's quality against its original (ld-surgeon measure) as a job */
  measure(spec: MeasureJobSpec): Promise<RunningJob>;
}
