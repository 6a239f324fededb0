// A distillation's trainer run folder: what the trainer saved of a run (config.json) and the checkpoints it
// left, so a run can be resumed and charted. No `vscode` here, so it is unit-tested outside VS Code.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { STATUS_FILE, type JobStatus } from '../jobs/runFolder';

/** The trainer's files (config.json, events.jsonl, checkpoints) inside a distillation job's run folder. */
export const TRAINER_DIR = 'trainer';
/** The trainer's events, one JSON object per line, in its run folder (the chart follows it). */
export const EVENTS_FILE = 'events.jsonl';

/** What the trainer saved of a run (its config.json) and the checkpoints it left. */
export interface TrainerRun {
  /** the trainer's run folder (holds config.json, events.jsonl, ckpt-*.pt) */
  dir: string;
  /** the Jobs view run folder it belongs to (`<job>/trainer`), when it is one */
  jobDir?: string;
  student: string;
  teacher: string;
  output?: string;
  steps?: number;
  /** checkpoint steps, ascending */
  checkpoints: number[];
}

function readConfig(dir: string): Record<string, unknown> | undefined {
  try {
    const j = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    return j && typeof j === 'object' ? (j as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function checkpointSteps(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((n) => /^ckpt-(\d+)\.pt$/.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1])).sort((a, b) => a - b);
}

/**
 * The trainer run a `resume` path names: a Jobs view run folder (`.ld-surgeon/runs/<id>`, its trainer files in
 * `trainer/`), that `trainer/` folder itself, or a CLI run (`<student>.distill-runs/<time>`).
 */
export function trainerRunAt(dir: string): TrainerRun | { problem: string } {
  const candidates = [path.join(dir, TRAINER_DIR), dir];
  for (const d of candidates) {
    const cfg = readConfig(d);
    if (!cfg) continue;
    if (typeof cfg.student !== 'string' || typeof cfg.teacher !== 'string') return { problem: `${path.join(d, 'config.json')}: not a distillation run configuration (no student/teacher)` };
    const parent = path.dirname(d);
    const jobDir = path.basename(d) === TRAINER_DIR && existsSync(path.join(parent, STATUS_FILE)) ? parent : undefined;
    return {
      dir: d,
      jobDir,
      student: cfg.student,
      teacher: cfg.teacher,
      output: typeof cfg.output === 'string' ? cfg.output : undefined,
      steps: typeof cfg.steps === 'number' ? cfg.steps : undefined,
      checkpoints: checkpointSteps(d),
    };
  }
  return { problem: `${dir}: not a distillation run folder (it has neither trainer/config.json nor config.json); resume takes a run folder from the Jobs view or a CLI run (*.distill-runs/<time>)` };
}

/**
 * Whether a distillation job can be resumed: cancelled after the trainer set up its run (without a checkpoint
 * it starts over, keeping the generated training data), or failed after writing a checkpoint.
 */
export function resumableRun(dir: string, status: Pick<JobStatus, 'kind' | 'state'>): TrainerRun | undefined {
  if (status.kind !== 'distill' || (status.state !== 'cancelled' && status.state !== 'failed')) return undefined;
  const run = trainerRunAt(dir);
  if ('problem' in run || run.jobDir !== dir) return undefined;
  return status.state === 'cancelled' || run.checkpoints.length ? run : undefined;
}
