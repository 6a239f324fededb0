// Launch Distillation…: fine-tunes a pruned model against the original (found through the prune record)
// with the Python trainer, after checking the interpreter has what it needs.
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { readPruneRecord } from '../../core/prune/record';
import { recordPathFor } from '../../core/prune/output';
import type { RunningJob } from '../jobs/jobRunner';
import { findPython } from '../../core/distill';
import { distillJobRequest, type DistillJobSpec } from '../jobs/distillJob';
import { readSettings } from '../settings';
import { argPath, resolveModel } from '../targets';
import { command, modelFileOf, rel, type WorkflowDeps } from './common';

export interface DistillWorkflow {
  start(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }>;
  disposables: vscode.Disposable[];
}

export function distillWorkflow(d: WorkflowDeps): DistillWorkflow {
  const pythonRoot = vscode.Uri.joinPath(d.context.extensionUri, 'python').fsPath;

  async function start(spec: DistillJobSpec): Promise<{ job: RunningJob; output: string }> {
    // the setting when given, else the first interpreter that has torch + onnx (the one on PATH often has neither)
    const choice = await findPython(spec.python ? { explicit: { python: spec.python, source: 'the ldSurgeon.pythonPath setting' } } : {}, pythonRoot);
    const c = choice.check;
    d.output.appendLine(`distillation uses ${choice.python} (${choice.source}; torch ${c.torch}, onnx ${c.onnx}, CUDA ${c.cuda_available ? 'yes' : 'no'})`);
    for (const r of choice.rejected) d.output.appendLine(`  passed over ${r.python} (${r.source}): ${r.reason}`);
    spec = { ...spec, python: choice.python };
    const { request, output } = distillJobRequest(pythonRoot, spec, `Distill: ${rel(spec.student)}`);
    const job = await d.jobs.start(request);
    // both graphs (pruned and original) show how the distillation goes
    const models = [modelFileOf(spec.student), spec.teacher];
    for (const m of models) d.graphs.broadcast(m, { type: 'distillState', state: 'running', message: 'starting' });
    const off = job.onDidChange((st) => {
      if (st.state === 'running') for (const m of models) d.graphs.broadcast(m, { type: 'distillState', state: 'running', message: st.progressMessage });
    });
    void job.finished.then((st) => {
      off();
      const state = st.state === 'done' ? 'done' : 'failed';
      const message = st.state === 'cancelled' ? 'cancelled' : st.error;
      for (const m of models) d.graphs.broadcast(m, { type: 'distillState', state, message, outputPath: st.state === 'done' ? output : undefined });
    });
    return { job, output };
  }

  /** The original a pruned model came from, by its prune record; else the user's pick. */
  async function teacherOf(student: string): Promise<string | undefined> {
    const record = readPruneRecord(recordPathFor(modelFileOf(student)));
    if (record && existsSync(record.source.model)) return record.source.model;
    return resolveModel(undefined, `Distill ${rel(student)}: pick the original (teacher) model`, d.pipelines.list());
  }

  d.jobs.registerKind('distill', async ({ target, options }) => (await start({
    student: target,
    teacher: String(options.teacher),
    steps: Number(options.steps) || 1000,
    device: (options.device as DistillJobSpec['device']) ?? 'auto',
    python: readSettings(vscode.Uri.file(target)).pythonPath,
    trainerArgs: Array.isArray(options.trainerArgs) ? options.trainerArgs.map(String) : undefined,
  })).job);

  return {
    start,
    disposables: [
      command('ldSurgeon.distill', async (arg) => {
        const student = argPath(arg) ?? (await resolveModel(undefined, 'LD Surgeon: Launch Distillation… — pick the pruned (student) model', d.pipelines.list()));
        if (!student) return;
        const teacher = await teacherOf(student);
        if (!teacher) return;
        const stepsText = await vscode.window.showInputBox({
          title: `Distill ${rel(student)} from ${rel(teacher)}`,
          prompt: 'Optimizer steps (BK-SDM-style distillation: task + output + feature losses)',
          value: '1000',
          validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 ? undefined : 'a whole number of steps, at least 1'),
        });
        if (!stepsText) return;
        const s = readSettings(vscode.Uri.file(student));
        const device = s.executionProvider === 'cuda' ? 'cuda' : s.executionProvider === 'cpu' ? 'cpu' : 'auto';
        await start({ student, teacher, steps: Number(stepsText), device, python: s.pythonPath });
      }),
    ],
  };
}
