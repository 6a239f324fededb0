// Finding the Python interpreter that runs the distillation trainer (python/ld_surgeon_distill).
// The trainer needs torch + onnx; on Debian the system interpreter (/usr/bin/python3) has them from apt,
// while the `python3` first on PATH is often a separate build without them. So candidates are
// probed with the trainer's own `--check` and the first that passes wins; the caller is told which one
// ran and why the others were passed over.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';

/** What `python -m ld_surgeon_distill --check` prints (one JSON line). */
export interface PythonCheck {
  ok: boolean;
  python: string;
  python_version?: string;
  torch?: string | null;
  onnx?: string | null;
  numpy?: string | null;
  cuda_available?: boolean;
  cuda_devices?: string[];
  cuda_version?: string | null;
  torchrun?: string | null;
  missing: { package: string; error: string; fix: string }[];
}

export interface PythonChoice {
  python: string;
  check: PythonCheck;
  /** how the interpreter was chosen, e.g. 'ldSurgeon.pythonPath setting' */
  source: string;
  /** candidates tried before it, with the reason each was passed over */
  rejected: RejectedPython[];
}

export interface RejectedPython {
  python: string;
  source: string;
  reason: string;
  /** the interpreter's own report when it ran but lacks packages (its `missing[].fix` says how to fix it) */
  check?: PythonCheck;
}

/** No candidate interpreter can run the trainer; `rejected` says why each was passed over. */
export class NoPythonError extends UserError {
  constructor(message: string, readonly rejected: RejectedPython[]) {
    super(message);
    this.name = 'NoPythonError';
  }
}

/** The folder holding the `ld_surgeon_distill` package: `python/` at the package root (beside dist/). */
export function trainerRoot(): string {
  const candidates = [path.resolve(__dirname, '..', 'python'), path.resolve(__dirname, '..', '..', '..', 'python')];
  const found = candidates.find((p) => existsSync(path.join(p, 'ld_surgeon_distill', '__main__.py')));
  if (!found) throw new Error(`the distillation trainer (python/ld_surgeon_distill) is missing next to ${__dirname}`);
  return found;
}

export function trainerEnv(root = trainerRoot()): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONPATH: [root, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
    PYTHONUNBUFFERED: '1',
  };
}

/** Runs the trainer's environment check with one interpreter. Rejects when it cannot run at all. */
export function checkPython(python: string, root = trainerRoot()): Promise<PythonCheck> {
  return new Promise((resolve, reject) => {
    // the package's entry point imports nothing heavy before --check, so it answers where torch is missing
    execFile(python, ['-m', 'ld_surgeon_distill', '--check'], { env: trainerEnv(root), timeout: 120_000 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.trim().startsWith('{'));
      if (line) {
        try {
          const check = JSON.parse(line) as PythonCheck;
          resolve({ ...check, missing: check.missing ?? [] });
          return;
        } catch {
          // not the trainer's output: reported below
        }
      }
      const why = (stderr.trim().split('\n').pop() || err?.message || 'no output').trim();
      reject(new Error(why));
    });
  });
}

export interface PythonRequest {
  /** an explicit interpreter (CLI --python, the ldSurgeon.pythonPath setting); used alone when given */
  explicit?: { python: string; source: string };
  /** further interpreters to try after the defaults' first choice, e.g. the Python extension's selection */
  preferred?: { python: string; source: string }[];
}

/** Picks the interpreter: the explicit one, else the preferred ones, LD_SURGEON_PYTHON, python3 on PATH, /usr/bin/python3. */
export async function findPython(req: PythonRequest = {}, root = trainerRoot()): Promise<PythonChoice> {
  const candidates = req.explicit
    ? [req.explicit]
    : [
        ...(req.preferred ?? []),
        ...(process.env.LD_SURGEON_PYTHON ? [{ python: process.env.LD_SURGEON_PYTHON, source: 'LD_SURGEON_PYTHON' }] : []),
        { python: process.platform === 'win32' ? 'python' : 'python3', source: 'PATH' },
        ...(process.platform === 'win32' ? [] : [{ python: '/usr/bin/python3', source: 'system Python' }]),
      ];
  const rejected: PythonChoice['rejected'] = [];
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c.python)) continue;
    seen.add(c.python);
    try {
      const check = await checkPython(c.python, root);
      if (check.ok) return { python: c.python, check, source: c.source, rejected };
      rejected.push({ ...c, check, reason: check.missing.map((m) => `${m.package} missing (fix: ${m.fix})`).join('; ') });
    } catch (e) {
      rejected.push({ ...c, reason: `cannot run: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  const lines = rejected.map((r) => `  ${r.python} (${r.source}): ${r.reason}`).join('\n');
  throw new NoPythonError(`no Python interpreter can run the distillation trainer (it needs torch and onnx):\n${lines}`, rejected);
}
