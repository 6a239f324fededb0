// The `ld-surgeon-distill` task definition (package.json `contributes.taskDefinitions`): what a tasks.json entry
// may hold, how it is checked, how its relative paths resolve (against the task's workspace folder) and how it
// maps onto the trainer's command line. No `vscode` here, so the mapping is unit-tested outside VS Code.
import * as path from 'node:path';
import type { DistillJobSpec } from './distillJob';

export const DISTILL_TASK_TYPE = 'ld-surgeon-distill';
export const DISTILL_DEVICES = ['auto', 'cpu', 'cuda'] as const;
export type DistillDevice = (typeof DISTILL_DEVICES)[number];

export interface DistillTaskDefinition {
  type: typeof DISTILL_TASK_TYPE;
  /** the pruned model: a .onnx or a pruned pipeline folder */
  student: string;
  /** the original model; default: the source named in the student's prune record */
  teacher?: string;
  steps?: number;
  lr?: number;
  batch?: number;
  lambdaTask?: number;
  lambdaOut?: number;
  lambdaFeat?: number;
  /** training data folder; default: data-free (latents the teacher samples) */
  data?: string;
  /** processes on this machine; > 1 runs DDP under torchrun */
  devices?: number;
  device?: DistillDevice;
  /** a run folder to continue from its latest checkpoint (a Jobs view run, or a CLI `*.distill-runs/<time>`) */
  resume?: string;
  /** the distilled model; default: STUDENT.distilled.onnx (the next free name) */
  output?: string;
  /** any further trainer flags, e.g. ["--warmup-steps", "100"] (python -m ld_surgeon_distill --help) */
  args?: string[];
}

/** Definition properties that are trainer flags, by their trainer CLI name. */
const FLAG_OF = {
  steps: 'steps',
  lr: 'lr',
  batch: 'batch-size',
  lambdaTask: 'lambda-task',
  lambdaOut: 'lambda-out',
  lambdaFeat: 'lambda-feat',
  device: 'device',
} as const satisfies Partial<Record<keyof DistillTaskDefinition, string>>;

const INTEGER_PROPS = new Set(['steps', 'batch', 'devices']);
const PATH_PROPS = ['student', 'teacher', 'data', 'resume', 'output'] as const;

/** Trainer flags a definition must not pass through `args`: the job owns them, or a property sets them. */
const OWNED_FLAGS: Record<string, string> = {
  '--student': "the 'student' property",
  '--teacher': "the 'teacher' property",
  '--run-dir': 'the job (its run folder under .ld-surgeon/runs)',
  '--resume': "the 'resume' property",
  '--output': "the 'output' property",
  '--data': "the 'data' property",
  '--steps': "the 'steps' property",
  '--lr': "the 'lr' property",
  '--batch-size': "the 'batch' property",
  '--lambda-task': "the 'lambdaTask' property",
  '--lambda-out': "the 'lambdaOut' property",
  '--lambda-feat': "the 'lambdaFeat' property",
  '--device': "the 'device' property",
  '--check': 'the environment check (LD Surgeon: Check Distillation Environment)',
};

/** A definition ready to run: absolute paths, trainer flags by CLI name, extra arguments. */
export interface ResolvedDistill {
  student: string;
  teacher?: string;
  data?: string;
  resume?: string;
  output?: string;
  devices: number;
  /** steps, lr, batch-size, lambda-*, device: only those the definition sets */
  flags: Record<string, string | number>;
  args: string[];
}

/**
 * Checks a task definition (from tasks.json, so anything may be in it) and resolves its relative paths against
 * `folder` (the task's workspace folder). Problems name the task and the property; none means it can run.
 */
export function resolveDefinition(raw: Record<string, unknown>, folder: string | undefined, where: string): { resolved?: ResolvedDistill; problems: string[] } {
  const problems: string[] = [];
  const str = (k: string): string | undefined => {
    const v = raw[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') {
      problems.push(`${where}: '${k}' must be a path (a string), not ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const paths: Partial<Record<(typeof PATH_PROPS)[number], string>> = {};
  for (const k of PATH_PROPS) {
    const v = str(k);
    if (v === undefined) continue;
    if (path.isAbsolute(v)) paths[k] = path.normalize(v);
    else if (folder) paths[k] = path.resolve(folder, v);
    else problems.push(`${where}: '${k}' is the relative path '${v}', but the task has no workspace folder to resolve it against; use an absolute path`);
  }
  if (!paths.student && !problems.some((p) => p.includes("'student'"))) problems.push(`${where}: 'student' (the pruned model to distill) is required`);

  const flags: Record<string, string | number> = {};
  for (const [prop, flag] of Object.entries(FLAG_OF)) {
    const v = raw[prop];
    if (v === undefined || v === null) continue;
    if (prop === 'device') {
      if (typeof v !== 'string' || !(DISTILL_DEVICES as readonly string[]).includes(v)) {
        problems.push(`${where}: 'device' must be one of ${DISTILL_DEVICES.join(', ')}, not ${JSON.stringify(v)}`);
      } else flags[flag] = v;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (INTEGER_PROPS.has(prop) && (!Number.isInteger(v) || v < 1))) {
      problems.push(`${where}: '${prop}' must be ${INTEGER_PROPS.has(prop) ? 'a whole number ≥ 1' : 'a number ≥ 0'}, not ${JSON.stringify(v)}`);
    } else flags[flag] = v;
  }

  let devices = 1;
  if (raw.devices !== undefined && raw.devices !== null) {
    if (typeof raw.devices !== 'number' || !Number.isInteger(raw.devices) || raw.devices < 1) {
      problems.push(`${where}: 'devices' must be a whole number ≥ 1 (processes on this machine), not ${JSON.stringify(raw.devices)}`);
    } else devices = raw.devices;
  }

  const args: string[] = [];
  if (raw.args !== undefined && raw.args !== null) {
    if (!Array.isArray(raw.args) || raw.args.some((a) => typeof a !== 'string' && typeof a !== 'number')) {
      problems.push(`${where}: 'args' must be a list of strings, e.g. ["--warmup-steps", "100"]`);
    } else {
      for (const a of raw.args.map(String)) {
        const flag = a.split('=')[0];
        if (OWNED_FLAGS[flag]) problems.push(`${where}: 'args' has ${flag}, which is set by ${OWNED_FLAGS[flag]}`);
        args.push(a);
      }
    }
  }
  if (problems.length) return { problems };
  return {
    resolved: { student: paths.student!, teacher: paths.teacher, data: paths.data, resume: paths.resume, output: paths.output, devices, flags, args },
    problems,
  };
}

/** The job spec of a new training from a checked definition. */
export function specOf(r: ResolvedDistill, teacher: string, python: string): DistillJobSpec {
  const { steps, device, ...flags } = r.flags;
  return {
    student: r.student,
    teacher,
    steps: typeof steps === 'number' ? steps : undefined,
    device: (typeof device === 'string' ? device : 'auto') as DistillDevice,
    python,
    trainerArgs: r.args,
    flags,
    data: r.data,
    devices: r.devices,
    output: r.output,
  };
}

/** A workspace-relative path for a definition (so tasks.json stays valid when the folder moves), else absolute. */
export function definitionPath(p: string, folder: string | undefined): string {
  if (!folder) return p;
  const rel = path.relative(folder, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : p;
}

/** The task's name in the Run Task list: what it distills, and what from. */
export function taskLabel(def: Pick<DistillTaskDefinition, 'student' | 'resume'>): string {
  return def.resume ? `resume ${def.resume}` : `distill ${def.student}`;
}
