// Where a prune writes, and how nothing half-made is ever left. Everything is built in a staging
// folder next to the final output (same filesystem, so the final step is a rename): the pruned model
// and its record, or a whole pipeline folder. Only when every check passed is it moved into place;
// a failure or a cancel deletes the staging folder.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors';
import type { Model } from '../onnx/types';
import { forEachTensor } from '../onnx/walk';
import { removeStaleStaging } from '../work-dirs';
import type { ScoreTarget } from '../scoring/target';
import { denoiserFolderName } from '../pipeline/layout';

export interface OutputPlan {
  kind: 'model' | 'pipeline';
  /** the pruned .onnx where it ends up */
  finalModel: string;
  /** the pipeline folder where it ends up (kind 'pipeline') */
  finalPipeline?: string;
  finalRecord: string;
  staging: string;
  stagedModel: string;
  stagedRecord: string;
  /** replace an existing output pipeline folder */
  force: boolean;
}

/** The prune's sample comparison in the output pipeline folder: original above, pruned below, same seeds. */
export const SAMPLES_FILE = 'prune-samples.png';

/** X.onnx → X.prune.json */
export function recordPathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.prune.json';
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The files a model reads: the .onnx and its external data files. */
export function modelFiles(model: Model): string[] {
  const files = new Set<string>([model.path]);
  forEachTensor(model, (t) => { if (t.location.kind === 'external') files.add(t.location.file); });
  return [...files];
}

/** Decides the output paths and refuses ones that would overwrite or swallow the source. */
export function planOutput(target: ScoreTarget, source: Model, out: string | undefined, force = false): OutputPlan {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  if (target.kind === 'pipeline') {
    const src = target.pipeline!;
    if (out && /\.onnx$/i.test(out)) throw new UserError(`${resolve(out)}: ${src} is a pipeline, so --out names the output pipeline folder, not an .onnx file`, out);
    const final = resolve(out ?? `${src.replace(/[\\/]+$/, '')}.pruned`);
    if (inside(final, src)) throw new UserError(`${final}: the output folder cannot be the source pipeline or inside it; choose another --out`, final);
    if (inside(src, final)) throw new UserError(`${final}: the output folder contains the source pipeline ${src}; choose another --out`, final);
    if (!statSync(dirname(final), { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${final}: the folder '${dirname(final)}' does not exist`, final);
    if (existsSync(final) && !force) throw new UserError(`${final}: already exists; remove it, pass --force to replace it, or choose another --out`, final);
    if (existsSync(final) && !statSync(final).isDirectory()) throw new UserError(`${final}: exists and is not a folder`, final);
    removeStaleStaging(final);
    const staging = join(dirname(final), `.${basename(final)}.staging-${tag}`);
    const d = denoiserFolderName(src);
    const stagedModel = join(staging, d, 'model.onnx');
    return {
      kind: 'pipeline', finalModel: join(final, d, 'model.onnx'), finalPipeline: final, finalRecord: join(final, d, 'model.prune.json'),
      staging, stagedModel, stagedRecord: join(staging, d, 'model.prune.json'), force,
    };
  }
  const src = target.modelPath;
  const final = resolve(out ?? src.replace(/\.onnx$/i, '') + '.pruned.onnx');
  if (!final.toLowerCase().endsWith('.onnx')) throw new UserError(`${final}: the output model must be an .onnx file`, final);
  const dataFile = `${final}.data`;
  for (const f of modelFiles(source)) {
    if (resolve(f) === final || sameFile(f, final) || resolve(f) === dataFile || sameFile(f, dataFile)) {
      throw new UserError(`${final}: refusing to overwrite ${f === source.path ? 'the source model' : `'${f}', which the source model reads its weights from`}; choose another --out`, final);
    }
  }
  if (statSync(final, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${final}: is a folder; give a file path for the model`, final);
  if (!statSync(dirname(final), { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${final}: the folder '${dirname(final)}' does not exist`, final);
  removeStaleStaging(final);
  const staging = join(dirname(final), `.${basename(final)}.staging-${tag}`);
  return {
    kind: 'model', finalModel: final, finalRecord: recordPathFor(final),
    staging, stagedModel: join(staging, basename(final)), stagedRecord: join(staging, basename(recordPathFor(final))), force,
  };
}

/** A hard link when the filesystem allows one (same device), else a copy. */
function linkOrCopy(src: string, dst: string): 'link' | 'copy' {
  try {
    linkSync(src, dst);
    return 'link';
  } catch {
    copyFileSync(src, dst);
    return 'copy';
  }
}

function copyTree(src: string, dst: string, skip: (p: string) => boolean, counts: { link: number; copy: number }, signal?: AbortSignal): void {
  mkdirSync(dst, { recursive: true });
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    if (skip(from)) continue;
    const st = statSync(from, { throwIfNoEntry: false });
    if (!st) continue;
    if (signal?.aborted) return;
    if (st.isDirectory()) copyTree(from, join(dst, name), skip, counts, signal);
    else if (st.isFile()) counts[linkOrCopy(from, join(dst, name))]++;
  }
}

/**
 * The staging folder; for a pipeline, filled with every component but the U-Net's model (and its
 * external data, score files and prune records, which describe the source U-Net, not the pruned one).
 */
export function stage(plan: OutputPlan, target: ScoreTarget, source: Model, signal?: AbortSignal): { linked: number; copied: number } {
  mkdirSync(plan.staging);
  const counts = { link: 0, copy: 0 };
  if (plan.kind === 'pipeline') {
    const unet = dirname(target.modelPath);
    const own = new Set(modelFiles(source).map((f) => resolve(f)));
    const skip = (p: string) => {
      const name = basename(p);
      if (name.startsWith('.') && /\.(tmp|staging-.*)$/.test(name)) return true;
      // the source's sample sheet shows the source: the pruned folder gets its own comparison instead
      if (dirname(p) === target.pipeline && (name === 'samples.png' || name === SAMPLES_FILE)) return true;
      if (dirname(p) !== unet) return false;
      // score files with a running job's lock and temp files (model.ldscores.json.lock, ….json.<pid>.<hex>.tmp)
      return own.has(resolve(p)) || /\.ldscores(\..*)?\.json(\..+)?$/.test(name) || name.endsWith('.prune.json');
    };
    copyTree(target.pipeline!, plan.staging, skip, counts, signal);
    mkdirSync(dirname(plan.stagedModel), { recursive: true });
  }
  return { linked: counts.link, copied: counts.copy };
}

export function discard(plan: OutputPlan): void {
  rmSync(plan.staging, { recursive: true, force: true });
}

/** Moves the staged output into place: data file, then model, then record (a model); or the folder (a pipeline). */
export function commit(plan: OutputPlan, source: Model): void {
  if (plan.kind === 'pipeline') {
    const final = plan.finalPipeline!;
    let trash: string | undefined;
    if (existsSync(final)) {
      if (!plan.force) throw new UserError(`${final}: appeared while pruning; nothing was replaced`, final);
      trash = `${plan.staging}.old`;
      renameSync(final, trash);
    }
    try {
      renameSync(plan.staging, final);
    } catch (e) {
      if (trash) renameSync(trash, final);
      throw e;
    }
    if (trash) rmSync(trash, { recursive: true, force: true });
    return;
  }
  const dir = dirname(plan.finalModel);
  const name = basename(plan.finalModel);
  const stagedData = join(plan.staging, `${name}.data`);
  const finalData = join(dir, `${name}.data`);
  // Three renames are not one atomic step, so the model moves last and an earlier prune's model goes first:
  // whenever a model is at the final path, its weights and record beside it are this prune's (a kill between
  // two renames leaves no model, never an old model beside new weights).
  rmSync(plan.finalModel, { force: true });
  if (existsSync(stagedData)) renameSync(stagedData, finalData);
  else if (existsSync(finalData) && !modelFiles(source).some((f) => resolve(f) === finalData)) {
    // an earlier prune's weights, which this model does not use: stale
    rmSync(finalData, { force: true });
  }
  renameSync(plan.stagedRecord, plan.finalRecord);
  renameSync(plan.stagedModel, plan.finalModel);
  rmSync(plan.staging, { recursive: true, force: true });
}
