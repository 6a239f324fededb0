// Paths that arrive in webview messages are untrusted (a webview renders model strings; treat it as
// able to send anything): a path is used only when it resolves inside one of the allowed folders
// (the workspace folders, the model's own folder), symlinks followed.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

function inside(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

const real = (p: string): string => {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
};

/** The absolute path when `p` (relative to `base`) lies inside one of `roots`, else undefined. */
export function pathInsideRoots(p: string, base: string, roots: readonly string[]): string | undefined {
  if (p.includes('\0')) return undefined;
  const abs = resolve(base, p);
  const target = real(abs);
  return roots.some((r) => inside(resolve(r), abs) && inside(real(r), target)) ? abs : undefined;
}
