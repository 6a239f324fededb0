// Resolving a tensor's external_data `location` safely: a model file must never make ld-surgeon read
// (or, when writing, clobber) a file outside the model's own folder. ONNX's checker has the same rule.
import { realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../errors';

function inside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

export interface ExternalFile { path: string; size: number }

/**
 * Caches stat/realpath per location while a model is indexed: thousands of tensors usually share
 * one sidecar file.
 */
export class ExternalResolver {
  private readonly dir: string;
  private realDir: string | undefined;
  private readonly cache = new Map<string, ExternalFile>();

  constructor(private readonly modelPath: string) {
    this.dir = dirname(modelPath);
  }

  resolve(location: string, tensorName: string): ExternalFile {
    const hit = this.cache.get(location);
    if (hit) return hit;
    const m = this.modelPath;
    const refuse = (why: string) =>
      new UserError(`${m}: tensor '${tensorName}' has external data location '${location}', which ${why}`, m);
    if (location === '') throw refuse('is empty');
    if (location.includes('\0')) throw refuse('contains a NUL character');
    if (isAbsolute(location) || /^[a-zA-Z]:[\\/]/.test(location) || location.startsWith('\\')) {
      throw refuse("is an absolute path; external data must be inside the model's folder");
    }
    if (location.split(/[\\/]/).includes('..')) throw refuse("uses '..'; external data must be inside the model's folder");
    const path = resolve(join(this.dir, location));
    if (!inside(this.dir, path)) throw refuse("is outside the model's folder");
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new UserError(`${m}: external data file '${path}' for tensor '${tensorName}' does not exist`, m);
    }
    this.realDir ??= realpathSync(this.dir);
    if (!inside(this.realDir, real)) throw refuse(`is a link to '${real}', outside the model's folder`);
    const st = statSync(real);
    if (!st.isFile()) throw new UserError(`${m}: external data '${path}' for tensor '${tensorName}' is not a regular file`, m);
    const f = { path, size: st.size };
    this.cache.set(location, f);
    return f;
  }
}
