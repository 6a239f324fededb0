// Output files are written whole or not at all: each goes to a temporary name in the target
// folder and is renamed into place, so a crash or cancel never leaves a truncated file. The temp
// names are hidden and carry the writer's pid: a killed writer's leftovers are removed by the next
// write of the same file (core/work-dirs removeStaleTempFiles).
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noRoomError } from '../errors';
import { removeStaleTempFiles, tempFileFor } from '../work-dirs';

/** Writes `data` to a fresh temp file beside `path` and returns the temp's name; nothing is left on failure. */
function writeTemp(path: string, data: Uint8Array | string): string {
  removeStaleTempFiles(path);
  const tmp = tempFileFor(path);
  try {
    writeFileSync(tmp, data);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw noRoomError(e, path);
  }
  return tmp;
}

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = writeTemp(path, data);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Writes several files into `dir` (created if needed), each atomically. Every file is written to its temp
 * first and only then are they all renamed, back to back: a failure (a full disk) replaces none of them,
 * and a kill can land between two renames only in that last instant.
 */
export function writeOutputs(dir: string, files: Record<string, Uint8Array | string>): string[] {
  mkdirSync(dir, { recursive: true });
  const temps: [string, string][] = [];
  try {
    for (const [name, data] of Object.entries(files)) {
      const p = join(dir, name);
      temps.push([writeTemp(p, data), p]);
    }
    for (const [tmp, p] of temps) renameSync(tmp, p);
  } catch (e) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    throw e;
  }
  return temps.map(([, p]) => p);
}
