// Saving an edited model through the streaming writer (atomic: temp file, renamed into place). By
// default the edited model goes beside the original as `<name>.edited.onnx`; the original is only
// written over when the caller says so (Save As onto it), and then its old bytes are kept as
// `<name>.backup.onnx` first. The document's snapshots read their weights from the original file by
// range, so those reads are pointed at the backup (same bytes, same offsets) before the original is
// replaced, and undo keeps working after the save.
import { copyFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors';
import type { WriteResult } from '../onnx/writer';
import { writeModel } from '../onnx/writer';
import type { Model, TensorData } from '../onnx/types';
import { forEachTensor } from '../onnx/walk';

export interface SaveOptions {
  /** the user chose the original's path (Save As): write over it, keeping a backup */
  overwriteOriginal?: boolean;
  /** fsync before renaming into place (default true) */
  durable?: boolean;
  signal?: AbortSignal;
}

export interface SaveResult {
  path: string;
  /** the sidecar, when the weights went to external data */
  dataPath?: string;
  /** where the original's old bytes were kept (saving over the original) */
  backup?: string;
  bytes: number;
}

const stem = (p: string) => basename(p).replace(/\.onnx$/i, '');

/** model.onnx → model.edited.onnx, beside it */
export function editedPathFor(original: string): string {
  return join(dirname(original), `${stem(original)}.edited.onnx`);
}

function freeName(dir: string, base: string, ext: string, taken: (p: string) => boolean): string {
  let p = join(dir, `${base}${ext}`);
  for (let i = 1; taken(p); i++) p = join(dir, `${base}-${i}${ext}`);
  return p;
}

function exists(p: string): boolean {
  return statSync(p, { throwIfNoEntry: false }) !== undefined;
}

function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  const x = statSync(a, { throwIfNoEntry: false });
  const y = statSync(b, { throwIfNoEntry: false });
  return !!x && !!y && x.dev === y.dev && x.ino === y.ino;
}

/** Files the model reads tensor bytes from. */
function sourceFiles(m: Model): Set<string> {
  const files = new Set<string>();
  forEachTensor(m, (t) => { if (t.location.kind !== 'inline') files.add(resolve(t.location.file)); });
  return files;
}

/** A sidecar name beside `target` that no snapshot reads from (the original's own data file keeps its name). */
function dataNameFor(target: string, reads: ReadonlySet<string>): string {
  return basename(freeName(dirname(target), basename(target), '.data', (p) => reads.has(resolve(p))));
}

/** Points every embedded tensor read from `from` at `to` (tensor objects are shared by all snapshots). */
function rebase(models: readonly Model[], from: string, to: string): void {
  const seen = new Set<TensorData>();
  for (const m of models) {
    forEachTensor(m, (t) => {
      if (seen.has(t)) return;
      seen.add(t);
      const loc = t.location;
      if (loc.kind === 'embedded' && resolve(loc.file) === resolve(from)) t.location = { ...loc, file: to };
    });
  }
}

/**
 * Writes `model` (a snapshot of the document opened from `original`) to `to`, or beside the
 * original. `snapshots` are every model of the document (their weight reads move to the backup
 * when the original is written over).
 */
export async function saveEdited(model: Model, original: string, to: string | undefined, snapshots: readonly Model[], o: SaveOptions = {}): Promise<SaveResult> {
  const target = resolve(to ?? editedPathFor(original));
  const reads = new Set<string>();
  for (const m of snapshots) for (const f of sourceFiles(m)) reads.add(f);
  const write = (m: Model): Promise<WriteResult> => writeModel(m, target, { durable: o.durable, signal: o.signal, externalDataName: dataNameFor(target, reads) });
  const done = (r: WriteResult, backup?: string): SaveResult => ({ path: r.path, dataPath: r.dataPath, bytes: r.bytes, ...(backup ? { backup } : {}) });

  if (!sameFile(target, original)) {
    if ([...reads].some((f) => sameFile(f, target))) {
      throw new UserError(`${target}: the edited model reads its weights from this file; choose another path`, target);
    }
    return done(await write(model));
  }
  if (!o.overwriteOriginal) {
    throw new UserError(`${target}: is the original model; save the edited model beside it, or choose it explicitly with Save As (the original is then kept as a backup)`, target);
  }
  const backup = freeName(dirname(original), `${stem(original)}.backup`, '.onnx', exists);
  copyFileSync(original, backup);
  rebase(snapshots, original, backup);
  try {
    return done(await write({ ...model, path: backup }), backup);
  } catch (e) {
    rebase(snapshots, backup, original);
    try { unlinkSync(backup); } catch { /* already gone */ }
    throw e;
  }
}
