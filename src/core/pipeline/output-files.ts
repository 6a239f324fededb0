// Output files are written whole or not at all: each goes to a temporary name in the target
// folder and is renamed into place, so a crash or cancel never leaves a truncated file.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes several files into `dir` (created if needed), each atomically. */
export function writeOutputs(dir: string, files: Record<string, Uint8Array | string>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, data]) => {
    const p = join(dir, name);
    writeFileAtomic(p, data);
    return p;
  });
}
