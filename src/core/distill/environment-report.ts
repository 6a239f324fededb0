// What the distillation environment check tells a user: which interpreter runs the trainer and why, its
// torch/onnx versions and devices, or what is missing and the exact command that fixes it. Shared by the
// VS Code task, the "Check Distillation Environment" command and anything else that reports a PythonChoice.
import { NoPythonError, type PythonCheck, type PythonChoice, type RejectedPython } from './python-env';

export interface EnvironmentProblem {
  /** names the interpreter(s) tried and what each lacks */
  message: string;
  /** shell commands that fix it (from the interpreter's own check); empty when no command is known */
  fixes: string[];
  /** the interpreter the fixes are for */
  python?: string;
}

/**
 * One command for all of an interpreter's missing packages. The check gives one command per package
 * (`X -m pip install torch`, `X -m pip install onnx`); when they differ only in their last word (the package)
 * they merge into one install (`X -m pip install torch onnx`), else they are chained with `&&`.
 */
export function fixCommand(check: Pick<PythonCheck, 'missing'>): string | undefined {
  const fixes = [...new Set(check.missing.map((m) => m.fix.trim()).filter(Boolean))];
  if (fixes.length <= 1) return fixes[0];
  const split = fixes.map((f) => {
    const i = f.lastIndexOf(' ');
    return i > 0 ? { head: f.slice(0, i), last: f.slice(i + 1) } : undefined;
  });
  const head = split[0]?.head;
  if (head !== undefined && split.every((s) => s?.head === head)) return `${head} ${split.map((s) => s!.last).join(' ')}`;
  return fixes.join(' && ');
}

function missingText(check: PythonCheck): string {
  return check.missing.map((m) => `${m.package} (${m.error})`).join(', ');
}

function rejectedText(r: RejectedPython): string {
  return r.check ? `${r.python} (${r.source}) lacks ${missingText(r.check)}` : `${r.python} (${r.source}): ${r.reason}`;
}

/** Why no interpreter can run the trainer, from what findPython threw. */
export function environmentProblem(err: unknown): EnvironmentProblem {
  if (!(err instanceof NoPythonError)) return { message: err instanceof Error ? err.message : String(err), fixes: [] };
  // the first interpreter that ran but lacks packages is the one the user meant (the setting, the Python
  // extension's selection, or the one on PATH, in that order); its own check knows how to complete it
  const fixable = err.rejected.find((r) => r.check && r.check.missing.length);
  const fix = fixable?.check && fixCommand(fixable.check);
  const others = err.rejected.filter((r) => r !== fixable).map(rejectedText);
  // the interpreter as configured (a venv's bin/python), and the executable it runs when that differs
  const exe = fixable?.check?.python && fixable.check.python !== fixable.python ? `, running ${fixable.check.python}` : '';
  const lead = fixable
    ? `${fixable.python} (${fixable.source}${exe}) cannot run the distillation trainer: it lacks ${missingText(fixable.check!)}.`
    : 'No Python interpreter can run the distillation trainer (it needs torch and onnx).';
  return {
    message: others.length ? `${lead} Also tried: ${others.join('; ')}.` : lead,
    fixes: fix ? [fix] : [],
    python: fixable?.python,
  };
}

/** The devices the trainer can use, as a user reads them. */
export function devicesText(check: PythonCheck): string {
  if (!check.cuda_available || !check.cuda_devices?.length) return 'CPU only (no CUDA device)';
  const cuda = check.cuda_version ? ` (CUDA ${check.cuda_version})` : '';
  return `${check.cuda_devices.map((d, i) => `cuda:${i} ${d}`).join(', ')}${cuda}`;
}

/** The report of a usable environment, one fact per line. */
export function environmentReport(choice: PythonChoice): string[] {
  const c = choice.check;
  const lines = [`Interpreter: ${choice.python}${c.python && c.python !== choice.python ? ` (${c.python})` : ''} — chosen from ${choice.source}`];
  for (const r of choice.rejected) lines.push(`  passed over ${rejectedText(r)}`);
  lines.push(`Python ${c.python_version ?? '?'} · torch ${c.torch ?? 'missing'} · onnx ${c.onnx ?? 'missing'} · numpy ${c.numpy ?? 'missing'}`);
  lines.push(`Devices: ${devicesText(c)}`);
  if (c.cuda_devices && c.cuda_devices.length > 1) lines.push(`torchrun (devices > 1): ${c.torchrun ? 'available' : 'not available'}`);
  return lines;
}

/** One line: interpreter, versions, devices. */
export function environmentSummary(choice: PythonChoice): string {
  const c = choice.check;
  return `${choice.python} (${choice.source}): Python ${c.python_version ?? '?'}, torch ${c.torch}, onnx ${c.onnx}, ${devicesText(c)}`;
}
