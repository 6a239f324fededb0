// Prune jobs: the CLI's `prune` (dist/cli.js, spawned) removes the chosen candidates, keeps every other
// weight, checks the result and writes it with its record beside it, or leaves nothing (it cleans up
// on SIGINT, which is how a cancel reaches it). The record it prints (--json) comes back as `data`.
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { JobEvent, JobProtocol, JobRequest } from '../jobs/jobRunner';
import { resolveTarget } from '../../core/scoring/target';
import { recordPathFor } from '../../core/prune/output';
import type { PruneRecord } from '../../core/prune/types';
import type { EpRequest } from '../../core/scoring/settings';

export interface PruneJobSpec {
  /** the model (or pipeline, or a pipeline's unet/model.onnx) to prune */
  input: string;
  ids: string[];
  ep: EpRequest;
}

export interface PruneOutput {
  kind: 'model' | 'pipeline';
  /** what the CLI's --out gets: a .onnx, or a pipeline folder */
  out: string;
  /** the pruned .onnx */
  model: string;
  record: string;
}

/** A fresh output beside the source: MODEL.pruned.onnx / PIPELINE.pruned, then -2, -3... (never overwrites). */
export function pruneOutput(input: string): PruneOutput {
  const t = resolveTarget(input);
  for (let i = 1; ; i++) {
    const suffix = i === 1 ? '' : `-${i}`;
    if (t.kind === 'pipeline') {
      const out = `${t.pipeline!.replace(/[\\/]+$/, '')}.pruned${suffix}`;
      if (existsSync(out)) continue;
      const model = path.join(out, path.basename(path.dirname(t.modelPath)), 'model.onnx');
      return { kind: 'pipeline', out, model, record: recordPathFor(model) };
    }
    const out = `${t.modelPath.replace(/\.onnx$/i, '')}.pruned${suffix}.onnx`;
    if (existsSync(out)) continue;
    return { kind: 'model', out, model: out, record: recordPathFor(out) };
  }
}

function pruneProtocol(output: PruneOutput): JobProtocol {
  const stdout: string[] = [];
  return {
    interpret: () => [],
    // --json prints the record, pretty-printed over many lines: keep it for the end, out of the log
    line(text) {
      stdout.push(text);
      return [];
    },
    onExit(code): JobEvent[] {
      if (code !== 0) return [];
      let record: PruneRecord | undefined;
      try {
        record = JSON.parse(stdout.join('\n')) as PruneRecord;
      } catch {
        return [{ type: 'error', message: `the prune finished but printed no readable record: ${stdout.slice(0, 3).join(' ')}` }];
      }
      const events: JobEvent[] = [];
      if (record.executionProvider) events.push({ type: 'executionProvider', name: record.executionProvider.used });
      for (const p of [output.kind === 'pipeline' ? output.out : output.model, output.record]) {
        if (existsSync(p)) events.push({ type: 'output', path: p });
      }
      const failed = record.checks.filter((c) => c.status === 'failed');
      if (failed.length) events.push({ type: 'error', message: `checks failed: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}` });
      events.push({ type: 'data', payload: record });
      return events;
    },
  };
}

/** The job request that prunes `spec.ids` out of `spec.input` with the CLI at `cliPath`. */
export function pruneJobRequest(cliPath: string, spec: PruneJobSpec, title: string): { request: JobRequest; output: PruneOutput } {
  if (!existsSync(cliPath)) throw new Error(`the ld-surgeon CLI ${cliPath} is missing: build the extension (npm run build)`);
  if (!spec.ids.length) throw new Error('nothing to prune: pick at least one candidate');
  if (!statSync(spec.input, { throwIfNoEntry: false })) throw new Error(`${spec.input} does not exist`);
  const output = pruneOutput(spec.input);
  const args = [cliPath, 'prune', spec.input, '--ops', spec.ids.join(','), '--out', output.out, '--ep', spec.ep, '--json', '--quiet'];
  return {
    output,
    request: {
      kind: 'prune',
      title,
      target: spec.input,
      executionProvider: spec.ep,
      settings: { kind: 'prune', target: spec.input, options: { ids: spec.ids, ep: spec.ep } },
      // the extension host's own Node (ELECTRON_RUN_AS_NODE makes VS Code's binary one)
      // it deletes its staging folder on SIGINT; a large pipeline copy takes a moment
      process: () => ({ type: 'spawn', command: process.execPath, args, cancelSignal: 'SIGINT', cancelGraceMs: 30_000 }),
      protocol: pruneProtocol(output),
    },
  };
}
