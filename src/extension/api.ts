// What activate() returns: the extension's live services. The real-VS-Code tests (test/e2e/suite) read the
// views through it; other extensions may too.
import type { GraphEditorProvider } from './graphEditor';
import type { JobManager } from './jobs/jobManager';
import type { JobsViewProvider } from './jobs/jobsView';
import type { ModelTreeProvider } from './modelTree';
import type { PipelineFolders } from './pipelineFolders';
import type { ScoreStore } from './scoreStore';
import type { WorkflowsApi } from './workflows';
import type { DistillChartPanels } from './distillChart';

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
