// The extension's flow on the architectures users ship besides SD 1.x U-Nets: a diffusion transformer pipeline
// (examples/digits-dit, denoiser in transformer/) and an SDXL-shaped pipeline (two text encoders and BPE tokenizers,
// a U-Net with the added conditions text_embeds + time_ids). Each goes through what the UI
// runs: Score Operators (the conditions pick on the SDXL one), the Model view and the graph editor on its denoiser,
// Prune Model… into a checked new pipeline, Launch Distillation… and a short distillation from the original.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { suite, suiteSetup, suiteTeardown, test } from './tdd';
import { api, closeAllEditors, graphReady, launchDistillation, REPO, waitFor, workspaceRoot } from './helpers';
import { ranked, readScoreFile } from '../../../src/core/scoring/score-file';
import { readPruneRecord } from '../../../src/core/prune/record';
import { buildSdxl } from '../../helpers/sdxl-pipeline';
import type { LdSurgeonApi } from '../../../src/extension/api';
import type { RunningJob } from '../../../src/extension/jobs/jobRunner';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
/** a tiny distillation: four teacher samples of two steps, batches of two, two optimizer steps */
const TINY = ['--data-samples', '4', '--data-steps', '2', '--eval-samples', '4', '--eval-steps', '2', '--batch-size', '2', '--eval-every', '0', '--log-every', '1', '--checkpoint-every', '0'];

/** Where the pipelines are copied: a folder of the host workspace, removed afterwards (other suites see one pipeline). */
const root = () => path.join(workspaceRoot(), 'architectures');

interface Arch {
  name: string;
  /** the pipeline folder in the workspace */
  pipeline: () => string;
  /** its denoiser's folder name */
  denoiser: 'transformer' | 'unet';
  /** a block id the candidates must include (transformer blocks are the candidates of both) */
  block: RegExp;
}

const DIT: Arch = { name: 'DiT', pipeline: () => path.join(root(), 'digits-dit'), denoiser: 'transformer', block: /^transformer_blocks\.\d+$/ };
const SDXL: Arch = { name: 'SDXL', pipeline: () => path.join(root(), 'sdxl'), denoiser: 'unet', block: /^(down|up)_blocks\.\d\.attentions\.\d\.transformer_blocks\.\d$/ };

const modelOf = (x: Arch) => path.join(x.pipeline(), x.denoiser, 'model.onnx');
const scoreFileOf = (x: Arch) => modelOf(x).replace(/\.onnx$/, '.ldscores.json');
const prunedOf = (x: Arch) => path.join(`${x.pipeline()}.pruned`, x.denoiser, 'model.onnx');

async function scoreJob(a: LdSurgeonApi, target: string, timeoutMs = 30_000): Promise<RunningJob> {
  return waitFor(`a scoring job on ${target}`, () => a.jobs.runningJobs().find((j) => j.status.kind === 'score' && j.status.target === target), timeoutMs);
}

/** Checks a finished scoring of `x` as a user would: every candidate scored, the transformer blocks among them. */
function assertScored(x: Arch): string[] {
  const file = readScoreFile(scoreFileOf(x));
  assert.equal(file.complete, true);
  assert.equal(file.settings.samples, 4, 'the workspace setting reached the worker');
  const scored = file.candidates.filter((c) => c.status === 'scored');
  assert.equal(scored.length, file.candidates.length, `all scored: ${file.candidates.filter((c) => c.status !== 'scored').map((c) => `${c.id} ${c.status}`).join(', ')}`);
  const ids = scored.map((c) => c.id);
  assert.ok(ids.some((id) => x.block.test(id)), `transformer blocks among the candidates: ${ids.join(', ')}`);
  assert.ok(scored.every((c) => c.score === null || (Number.isFinite(c.score) && c.score >= 0)), 'scores are distances');
  return ids;
}

/** The Model view and the graph editor on the denoiser: its modules, and the scores in the graph. */
async function assertViews(a: LdSurgeonApi, x: Arch): Promise<void> {
  const model = modelOf(x);
  // a fresh editor (scoring opened one): it gets the graph and then the stored scores before it is ready
  await closeAllEditors();
  await vscode.commands.executeCommand('ldSurgeon.openGraph', vscode.Uri.file(model));
  const panel = await waitFor(`the graph editor on ${model}`, () => a.graphs.panelsFor(model)[0], 60_000);
  await graphReady(panel);
  assert.ok(panel.sent.includes('init') && panel.sent.includes('scores'), `sent: ${panel.sent.join(', ')}`);
  assert.equal(a.scores.all(model).length, readScoreFile(scoreFileOf(x)).candidates.length);
  await waitFor('the Model view on the denoiser', () => a.modelTree.current()?.modelPath === model || undefined, 30_000);
  const rootItem = a.modelTree.getChildren()[0];
  assert.equal(rootItem.modelPath, model);
  const best = ranked(readScoreFile(scoreFileOf(x))).filter((c) => c.modification !== 'none' && c.score !== null)[0];
  const item = await waitFor(`tree item ${best.id}`, () => a.modelTree.itemFor(best.id));
  assert.match(String(item.description), /^score \d/);
}

/** Prune Model… on the denoiser with its two lowest-scored candidates: a new checked pipeline, the original untouched. */
async function assertPrune(a: LdSurgeonApi, x: Arch): Promise<void> {
  const ids = ranked(readScoreFile(scoreFileOf(x))).filter((c) => c.modification !== 'none' && c.score !== null).slice(0, 2).map((c) => c.id);
  assert.equal(ids.length, 2);
  const before = sha(modelOf(x));
  await vscode.commands.executeCommand('ldSurgeon.prune', vscode.Uri.file(modelOf(x)), ids);
  const job = await waitFor('a prune job', () => a.jobs.runningJobs().find((j) => j.status.kind === 'prune' && j.status.target === modelOf(x)));
  const s = await job.finished;
  assert.equal(s.state, 'done', s.error);
  const pruned = prunedOf(x);
  assert.ok(existsSync(pruned), `${pruned} written`);
  assert.ok(s.outputs?.includes(`${x.pipeline()}.pruned`), `outputs: ${s.outputs?.join(', ')}`);
  const record = readPruneRecord(pruned.replace(/\.onnx$/, '.prune.json'));
  assert.ok(record, `the prune record is beside ${pruned}`);
  assert.deepEqual(record.removed.map((r) => r.id).sort(), [...ids].sort());
  assert.ok(record.after.params < record.before.params, `params ${record.before.params} → ${record.after.params}`);
  assert.ok(record.checks.length > 0 && record.checks.every((c) => c.status !== 'failed'), JSON.stringify(record.checks));
  assert.equal(sha(modelOf(x)), before, 'the original model is untouched');
  const panel = await waitFor('the pruned model in the graph editor', () => a.graphs.panelsFor(pruned)[0], 60_000);
  await graphReady(panel);
}

/**
 * Launch Distillation… on the pruned denoiser: the teacher comes from its prune record, it runs as an
 * ld-surgeon-distill task with the default steps; the task is stopped once its job has started.
 */
async function assertLaunch(a: LdSurgeonApi, x: Arch): Promise<void> {
  const { job, execution, def } = await launchDistillation(a, prunedOf(x));
  const rel = (p: string) => path.relative(workspaceRoot(), p);
  assert.deepEqual({ student: def.student, teacher: def.teacher, steps: def.steps }, { student: rel(prunedOf(x)), teacher: rel(modelOf(x)), steps: 1000 });
  execution.terminate();
  const s = await job!.finished;
  assert.equal(s.state, 'cancelled', s.error);
}

/** Launch Distillation…, then a short distillation through the extension's API: the pruned denoiser fine-tuned against the original. */
async function assertLaunchAndDistill(a: LdSurgeonApi, x: Arch): Promise<void> {
  await assertLaunch(a, x);
  const { job, output } = await a.workflows.distill({ student: prunedOf(x), teacher: modelOf(x), steps: 2, device: 'cpu', python: PYTHON, trainerArgs: TINY });
  const s = await job.finished;
  assert.equal(s.state, 'done', s.error);
  assert.deepEqual(s.outputs, [output]);
  assert.equal(output, path.join(`${x.pipeline()}.pruned`, x.denoiser, 'model.distilled.onnx'));
  assert.ok(existsSync(output), `${output} written`);
}

suite('architectures: DiT and SDXL pipelines', () => {
  let a: LdSurgeonApi;

  suiteSetup(async function () {
    this.timeout(2 * 60_000);
    a = await api();
    await closeAllEditors();
    rmSync(root(), { recursive: true, force: true });
    mkdirSync(root(), { recursive: true });
    // copies, as run.mjs makes of digits-cond: the tests score, prune and write next to the models
    cpSync(path.join(REPO, 'examples', 'digits-dit'), DIT.pipeline(), { recursive: true, filter: (src) => !/\.(ldscores\.json|pruned\.onnx|prune\.json)$/.test(src) });
    // the SDXL-shaped U-Net exported by training/unet.py (text_time added conditions, transformer depths 1 and 2)
    // with two text encoders and BPE tokenizers made for it; its default prompts are the model index's
    await buildSdxl(root(), { ld_surgeon: { prompts: ['ABC', 'a b'], guidance_scale: 2 } }, path.join(REPO, 'test', 'fixtures', 'sdxl-unet'));
    await waitFor('both pipelines known to the explorer', () => [DIT, SDXL].every((x) => a.pipelines.list().includes(x.pipeline())) || undefined, 30_000);
  });
  suiteTeardown(async () => {
    await closeAllEditors();
    rmSync(root(), { recursive: true, force: true });
    for (const x of [DIT, SDXL]) rmSync(`${x.pipeline()}.pruned`, { recursive: true, force: true });
    // the harness's conditions, in case the SDXL test stopped before the pick saved them
    await vscode.workspace.getConfiguration('ldSurgeon').update('conditions', { source: 'default' }, vscode.ConfigurationTarget.Workspace);
  });

  // timeouts: a few times the local duration (2-core machine, other jobs running)
  test('DiT: Score Operators on the pipeline folder scores the transformer blocks beside transformer/model.onnx', async function () {
    this.timeout(2 * 60_000);
    await vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(DIT.pipeline()));
    const s = await (await scoreJob(a, DIT.pipeline())).finished;
    assert.equal(s.state, 'done', s.error);
    assert.deepEqual(s.outputs, [scoreFileOf(DIT)]);
    const ids = assertScored(DIT);
    assert.ok(!ids.some((id) => /norm1\.emb|ff\.net\.0/.test(id)), `no channel slicing of token features: ${ids.join(', ')}`);
  });

  test('DiT: the Model view and the graph editor open transformer/model.onnx with its scores', async function () {
    this.timeout(2 * 60_000);
    await assertViews(a, DIT);
    const top = a.modelTree.getChildren(a.modelTree.getChildren()[0]).map((i) => i.module.id);
    assert.ok(top.filter((id) => /^transformer_blocks\.\d+$/.test(id)).length >= 2, `the transformer's blocks are modules: ${top.join(', ')}`);
    await closeAllEditors();
  });

  test('DiT: Prune Model… writes a checked pruned pipeline with its transformer/', async function () {
    this.timeout(2 * 60_000);
    await assertPrune(a, DIT);
    await closeAllEditors();
  });

  // the trainer on the DiT is test/pipeline-dit's (CLI); here the command's resolution of transformer/ models
  test('DiT: Launch Distillation… on the pruned transformer takes the original transformer as teacher', async function () {
    this.timeout(2 * 60_000);
    await assertLaunch(a, DIT);
  });

  test('SDXL: Score Operators asks for the conditions; the default prompts go through both tokenizers and the scores land beside the U-Net', async function () {
    this.timeout(3 * 60_000);
    const conditions = () => vscode.workspace.getConfiguration('ldSurgeon', vscode.Uri.file(SDXL.pipeline()));
    // token ids carry no pooled text embedding: a setting naming them is refused before anything runs
    await conditions().update('conditions', { source: 'tokenIds', ids: '0,2,1' }, vscode.ConfigurationTarget.Workspace);
    await assert.rejects(a.workflows.score(SDXL.pipeline()), (e: Error) => /SDXL pipeline .*token ids carry no pooled text embedding/.test(e.message) && e.message.includes(SDXL.pipeline()));
    // a user who has chosen no conditions yet
    await conditions().update('conditions', undefined, vscode.ConfigurationTarget.Workspace);
    void vscode.commands.executeCommand('ldSurgeon.scoreOperators', vscode.Uri.file(SDXL.pipeline()));
    // the pick's first item: the pipeline's default prompts
    const job = await waitFor('the scoring job after the conditions pick', async () => {
      const j = a.jobs.runningJobs().find((r) => r.status.kind === 'score' && r.status.target === SDXL.pipeline());
      if (!j) await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      return j;
    }, 60_000);
    const s = await job.finished;
    assert.equal(s.state, 'done', s.error);
    assert.deepEqual(conditions().get('conditions'), { source: 'default' }, 'the choice is saved');
    assertScored(SDXL);
    assert.deepEqual(readScoreFile(scoreFileOf(SDXL)).settings.conditions, { kind: 'default' });
  });

  test('SDXL: the Model view and the graph editor open the U-Net with its scores', async function () {
    this.timeout(2 * 60_000);
    await assertViews(a, SDXL);
    await closeAllEditors();
  });

  test('SDXL: Prune Model… writes a checked pruned pipeline (the checks sample it with text_embeds and time_ids)', async function () {
    this.timeout(2 * 60_000);
    await assertPrune(a, SDXL);
    await closeAllEditors();
  });

  test('SDXL: Launch Distillation… on the pruned U-Net takes the original as teacher, and a short distillation (text_embeds and time_ids fed to the trainer) writes the distilled model', async function () {
    // most of it is the trainer exporting the distilled U-Net (torch.onnx.export)
    this.timeout(5 * 60_000);
    await assertLaunchAndDistill(a, SDXL);
  });
});
