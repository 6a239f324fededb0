// The Kubernetes manifests in deploy/kubernetes, checked without a cluster: against the Kubernetes API
// schemas (kubernetes-models' validators: types, required fields), against its TypeScript types for fields
// the API does not know (a typo the schemas let through, which the API server rejects), and by running
// each pod's command line through sh and our CLI exactly as the Job would, for every completion index.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';

const ROOT = resolve(__dirname, '..');
const DIR = join(ROOT, 'deploy', 'kubernetes');
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const tmp = mkdtempSync(join(tmpdir(), 'ld-surgeon-k8s-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function jobs(file: string): IJob[] {
  return parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    return d.toJS() as IJob;
  });
}
const manifests = () => files.flatMap((f) => jobs(f).map((job) => ({ file: f, job })));

test('deploy/kubernetes holds the score and merge Jobs', () => {
  assert.deepEqual(files, ['merge-job.yaml', 'score-indexed-job.yaml']);
  for (const { file, job } of manifests()) assert.equal(job.kind, 'Job', file);
});

test('every manifest passes the Kubernetes API schema; a wrongly typed field would not', () => {
  for (const { file, job } of manifests()) {
    assert.doesNotThrow(() => new Job(job).validate(), `${file} fails the batch/v1 Job schema`);
    const broken = structuredClone(job);
    (broken.spec!.template.spec!.containers[0] as unknown as { args: unknown }).args = 'not a list';
    assert.throws(() => new Job(broken).validate(), /args must be array/);
  }
});

/** Type-checks `const job: IJob = <manifest>` so TypeScript's excess-property check names unknown fields. */
function unknownFields(manifest: unknown): string[] {
  const dir = join(ROOT, 'node_modules', '.cache', 'ld-surgeon-k8s-check');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `manifest-${process.pid}.ts`);
  writeFileSync(file, `import type { IJob } from 'kubernetes-models/batch/v1/Job';\nexport const job: IJob = ${JSON.stringify(manifest)};\n`);
  try {
    const program = ts.createProgram([file], { noEmit: true, strict: true, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, types: [], skipLibCheck: true });
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  } finally {
    rmSync(file, { force: true });
  }
}

test('no manifest has a field the Kubernetes API does not know; a misspelt one is named', () => {
  for (const { file, job } of manifests()) assert.deepEqual(unknownFields(job), [], file);
  const typo = structuredClone(manifests().find((m) => m.file === 'score-indexed-job.yaml')!.job) as unknown as { spec: Record<string, unknown> };
  typo.spec.completionsMode = 'Indexed';
  const problems = unknownFields(typo);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /'"?completionsMode"?' does not exist in type 'IJobSpec'/);
});

/** A stand-in `ld-surgeon` on PATH: our CLI with --ep cpu (no GPU here) and, for score, --estimate. */
function cliShim(log: string): string {
  const bin = join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  const shim = join(bin, 'ld-surgeon');
  writeFileSync(shim, [
    '#!/bin/sh',
    `printf '%s\\n' "$*" >> '${log}'`,
    'cmd="$1"; prev=""',
    'for a in "$@"; do shift; [ "$prev" = "--ep" ] && a=cpu; set -- "$@" "$a"; prev="$a"; done',
    `if [ "$cmd" = score ]; then exec '${process.execPath}' '${join(ROOT, 'bin', 'ld-surgeon.js')}' "$@" --estimate; fi`,
    `exec '${process.execPath}' '${join(ROOT, 'bin', 'ld-surgeon.js')}' "$@"`,
  ].join('\n'));
  chmodSync(shim, 0o755);
  return bin;
}

/** Runs a container's command as the pod would, with its env, mount paths mapped to local folders. */
function runContainer(job: IJob, env: Record<string, string>, mounts: Record<string, string>, bin: string) {
  const c = job.spec!.template.spec!.containers[0];
  const map = (s: string) => Object.entries(mounts).reduce((acc, [from, to]) => acc.split(from).join(to), s);
  const own = Object.fromEntries((c.env ?? []).map((e) => [e.name, map(e.value ?? '')]));
  const [sh, ...rest] = [...(c.command ?? []), ...(c.args ?? [])].map(map);
  return spawnSync(sh, rest, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...own, ...env, PATH: `${bin}:${process.env.PATH}` } });
}

test('each score pod runs a valid shard of the same scoring, and the merge Job joins exactly their files', { skip: process.platform === 'win32' && 'sh' }, () => {
  const score = jobs('score-indexed-job.yaml')[0];
  const merge = jobs('merge-job.yaml')[0];
  const shards = Number(score.spec!.template.spec!.containers[0].env!.find((e) => e.name === 'SHARDS')!.value);
  assert.equal(score.spec!.completionMode, 'Indexed');
  assert.equal(score.spec!.completions, shards, 'completions must equal SHARDS');

  const log = join(tmp, 'calls.log');
  const bin = cliShim(log);
  const results = join(tmp, 'results');
  mkdirSync(results);
  const mounts = { '/models/sd-pipeline': join(ROOT, 'examples', 'digits-uncond'), '/results': results, '/scratch': tmp };
  for (let index = 0; index < shards; index++) {
    const r = runContainer(score, { JOB_COMPLETION_INDEX: String(index) }, mounts, bin);
    assert.equal(r.status, 0, `pod ${index}: ${r.stderr}`);
    assert.match(r.stdout, /evaluation/i, `pod ${index} prints the estimate of its shard`);
  }
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  const outs = calls.map((c) => /--out (\S+)/.exec(c)![1]);
  const shardArgs = calls.map((c) => /--shard (\S+)/.exec(c)![1]);
  assert.deepEqual(shardArgs, Array.from({ length: shards }, (_, i) => `${i + 1}/${shards}`));
  assert.equal(new Set(outs).size, shards, 'every pod writes its own shard file');
  assert.deepEqual(new Set(calls.map((c) => c.replace(/--shard \S+|--out \S+/g, ''))).size, 1, 'pods differ only in --shard and --out');

  // The shard files the pods would write, then the merge pod's glob over them.
  for (const out of outs) writeFileSync(out, '{}');
  writeFileSync(join(results, 'model.ldscores.shard-1-of-4.json'), '{}'); // another run's shard: not joined
  writeFileSync(log, '');
  runContainer(merge, {}, mounts, bin);
  const mergeCall = readFileSync(log, 'utf8').trim();
  const joined = mergeCall.replace(/^merge-scores /, '').replace(/ --out .*/, '').split(' ').sort();
  assert.deepEqual(joined, [...outs].sort());
});
