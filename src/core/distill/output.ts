// Where a distillation's result goes. A bare student gives a bare model (an .onnx file). A pipeline
// student with --out DIR gives a distilled pipeline folder, as a prune gives PIPELINE.pruned/: every
// component of the student's pipeline copied, the U-Net replaced by the distilled one. The trainer
// writes its model beside DIR under a hidden name; only when it is done is the folder assembled in a
// staging folder and renamed into place, so a failed or cancelled run leaves no half-made DIR.
import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors';
import { readModel } from '../onnx/reader';
import { modelFiles } from '../prune/output';
import { escapeRe, removeDeadOwners, removeStaleStaging, UNOWNED_STALE_MS } from '../work-dirs';
import { denoiserFolderName, denoiserModelPath } from '../pipeline/layout';

export type DistillOutputPlan =
  /** the trainer's own output rule (--out FILE.onnx or STUDENT.distilled.onnx) */
  | { kind: 'model'; trainerOutput?: string }
  | { kind: 'pipeline'; trainerOutput: string; folder: string; pipeline: string; studentModel: string };

const isPipeline = (dir: string) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true && existsSync(denoiserModelPath(dir));

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The trainer's model while the run lasts: hidden beside the folder it will end up in, and named after this process
 * (`.DIR.<pid>-<hex>.distill-unet.onnx`), as the atomic writes' temps are, so that what a killed run left is told
 * from a live run's (removeStaleTrainerOutputs).
 */
export const trainerOutputFor = (folder: string) => join(dirname(folder), `.${basename(folder)}.${process.pid}-${randomBytes(4).toString('hex')}.distill-unet.onnx`);

/** A trainer output's name: the folder it is for, and the pid of the run that named it (absent before r6). */
const TRAINER_OUTPUT = /^\.(.+?)(?:\.(\d+)-[0-9a-f]{8})?\.distill-unet\.onnx$/;

/**
 * Removes what killed distillations into `folder` left beside it: their trainer outputs (with external data), the
 * trainer's temps of them, and the names of runs before the pid was in them once untouched for a day. A live run's
 * files are kept (its pid, and a temp's writer, are checked).
 */
export function removeStaleTrainerOutputs(folder: string): string[] {
  const base = basename(folder);
  const esc = escapeRe(base);
  const owned = new RegExp(`^\\.?\\.${esc}\\.(\\d+)-[0-9a-f]{8}\\.distill-unet\\.onnx(?:\\.data)?(?:\\.(\\d+)-[A-Za-z0-9_]+\\.tmp(?:\\.data)?)?$`);
  const legacy = new RegExp(`^\\.?\\.${esc}\\.distill-unet\\.onnx(?:\\.data)?(?:\\.\\d+-[A-Za-z0-9_]+\\.tmp(?:\\.data)?)?$`);
  const dir = dirname(folder);
  return removeDeadOwners(dir, (name) => {
    const m = owned.exec(name);
    if (m) return m[2] ? [Number(m[1]), Number(m[2])] : [Number(m[1])];
    // no owner in the name: a leftover once nobody has touched it for a day (as work folders without one)
    if (legacy.test(name)) return Date.now() - (statSync(join(dir, name), { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) >= UNOWNED_STALE_MS ? [] : undefined;
    return undefined;
  });
}

/** Decides what --out means for this student, refusing outputs that would overwrite or swallow the student. */
export function planDistillOutput(student: string, out: string | undefined): DistillOutputPlan {
  const src = resolve(student);
  if (!isPipeline(src)) {
    if (out !== undefined && !/\.onnx$/i.test(out)) throw new UserError(`${resolve(out)}: the student ${src} is a model, so --out names an .onnx file`, out);
    return { kind: 'model', trainerOutput: out };
  }
  if (out === undefined) return { kind: 'model' };
  const folder = resolve(out);
  if (/\.onnx$/i.test(folder)) throw new UserError(`${folder}: the student ${src} is a pipeline, so --out names the distilled pipeline folder, not an .onnx file`, folder);
  if (inside(folder, src)) throw new UserError(`${folder}: the output folder cannot be the student pipeline or inside it; choose another --out`, folder);
  if (inside(src, folder)) throw new UserError(`${folder}: the output folder contains the student pipeline ${src}; choose another --out`, folder);
  if (!statSync(dirname(folder), { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${folder}: the folder '${dirname(folder)}' does not exist`, folder);
  if (existsSync(folder)) throw new UserError(`${folder}: already exists; remove it or choose another --out`, folder);
  removeStaleTrainerOutputs(folder);
  return { kind: 'pipeline', trainerOutput: trainerOutputFor(folder), folder, pipeline: src, studentModel: denoiserModelPath(src) };
}

/**
 * What a resumed run writes: --out when given again, else what its first run planned — a pipeline run (its trainer
 * output is trainerOutputFor(folder), as the run folder's config.json records) still ends in that pipeline folder.
 */
export function planResumedOutput(runDir: string, out: string | undefined): DistillOutputPlan {
  if (out !== undefined) return { kind: 'model', trainerOutput: out };
  let cfg: { output?: unknown; student?: unknown };
  try {
    cfg = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'));
  } catch {
    return { kind: 'model' }; // the trainer names what is wrong with the run folder
  }
  const output = typeof cfg.output === 'string' ? cfg.output : undefined;
  const student = typeof cfg.student === 'string' ? cfg.student : undefined;
  const m = output ? TRAINER_OUTPUT.exec(basename(output)) : null;
  const pipeline = student && dirname(dirname(student));
  if (!m || !output || !student || !pipeline || !isPipeline(pipeline)) return { kind: 'model' };
  // the trainer's output may change on a resume: this run names its own, and the first run's (its process is gone)
  // is removed with any other killed run's
  const folder = join(dirname(output), m[1]);
  removeStaleTrainerOutputs(folder);
  return { kind: 'pipeline', trainerOutput: trainerOutputFor(folder), folder, pipeline, studentModel: student };
}

/** Copies (a reflink where the filesystem has them, never a hard link: the two folders must not share a file). */
function copyTree(src: string, dst: string, skip: ReadonlySet<string>): void {
  mkdirSync(dst, { recursive: true });
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    if (skip.has(from) || (name.startsWith('.') && /\.(tmp|staging-.*)$/.test(name))) continue;
    const st = statSync(from, { throwIfNoEntry: false });
    if (st?.isDirectory()) copyTree(from, join(dst, name), skip);
    else if (st?.isFile()) {
      try {
        copyFileSync(from, join(dst, name), constants.COPYFILE_FICLONE);
      } catch (e) {
        // renamed away since the listing (a score job's temp file landing): nothing to copy
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
}

/**
 * The trainer is done and wrote `exported`: builds the distilled pipeline folder (the student's
 * components, minus its U-Net, its external data, score files, prune record and sample sheet, which
 * describe the student, plus the distilled U-Net as unet/model.onnx) and moves it into place.
 */
export async function assembleDistilledPipeline(plan: Extract<DistillOutputPlan, { kind: 'pipeline' }>, exported: string): Promise<string> {
  if (existsSync(plan.folder)) throw new UserError(`${plan.folder}: appeared while distilling; the distilled U-Net stays at ${exported}`, plan.folder);
  removeStaleStaging(plan.folder);
  const staging = join(dirname(plan.folder), `.${basename(plan.folder)}.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  const denoiser = denoiserFolderName(plan.pipeline);
  const unet = join(plan.pipeline, denoiser);
  const skip = new Set(modelFiles(await readModel(plan.studentModel)).map((f) => resolve(f)));
  // score files, with a running score job's lock and temp files (model.ldscores.json.lock, ….json.<pid>.<hex>.tmp)
  for (const name of readdirSync(unet)) if (/\.ldscores(\..*)?\.json(\..+)?$/.test(name) || name.endsWith('.prune.json')) skip.add(join(unet, name));
  // the student's sample sheet shows the student, not the distilled model
  skip.add(join(plan.pipeline, 'samples.png'));
  try {
    copyTree(plan.pipeline, staging, skip);
    mkdirSync(join(staging, denoiser), { recursive: true });
    // the exported model names its external data file (if any) by its own file name: it moves along unchanged
    const data = readdirSync(dirname(exported)).filter((n) => n.startsWith(`${basename(exported)}.`) && !n.includes('.tmp'));
    for (const n of data) renameSync(join(dirname(exported), n), join(staging, denoiser, n));
    renameSync(exported, join(staging, denoiser, 'model.onnx'));
    renameSync(staging, plan.folder);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return plan.folder;
}
