// The conditions a conditional pipeline is sampled with for scoring (and so the prune checks) and
// distillation (`ldSurgeon.conditions`): the setting is parsed, read and checked by core (the same
// spec the CLI's flags become), chosen with a quick pick, and described for the job title, the
// notifications and the graph view.
import * as vscode from 'vscode';
import * as path from 'node:path';
import {
  checkConditionsForPipeline, conditionInputFromSpec, describeConditions, parseConditionIds, parseConditionSetting,
  type ConditionInput, type ConditionSpec,
} from '../core/pipeline/conditions';
import { trainerConditions, type TrainerConditions } from '../core/distill/conditions';
import { readPipelineLayout, type PipelineLayout } from '../core/pipeline/layout';
import { sdxlParts } from '../core/pipeline/sdxl-conditions';
import { resolveTarget } from '../core/scoring/target';
import { errorText } from './commands';
import { conditionSourceItems, NOT_PROMPTS_FILES } from './conditionSources';

const SETTING = 'conditions';

/** Where relative files in the setting resolve: the target's workspace folder, else its own folder. */
function baseDir(scope: vscode.Uri): string {
  return vscode.workspace.getWorkspaceFolder(scope)?.uri.fsPath ?? path.dirname(scope.fsPath);
}

function readSpec(scope: vscode.Uri): { spec: ConditionSpec; chosen: boolean } {
  const c = vscode.workspace.getConfiguration('ldSurgeon', scope);
  const i = c.inspect(SETTING);
  const chosen = [i?.workspaceFolderValue, i?.workspaceValue, i?.globalValue].some((v) => v !== undefined && JSON.stringify(v) !== '{}');
  return { spec: parseConditionSetting(c.get(SETTING)), chosen };
}

async function saveSpec(spec: ConditionSpec, scope: vscode.Uri): Promise<void> {
  const base = baseDir(scope);
  const relFile = (f: string) => {
    const r = path.relative(base, path.resolve(base, f));
    return r.startsWith('..') || path.isAbsolute(r) ? path.resolve(base, f) : r;
  };
  const value = spec.source === 'promptsFile' || spec.source === 'embeddings' ? { source: spec.source, file: relFile(spec.file) }
    : spec.source === 'tokenIds' ? { source: spec.source, ids: spec.ids }
    : { source: 'default' };
  const target = vscode.workspace.getWorkspaceFolder(scope) ? vscode.ConfigurationTarget.WorkspaceFolder : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('ldSurgeon', scope).update(SETTING, value, target);
}

interface FileItem extends vscode.QuickPickItem {
  /** undefined: the "Browse…" item */
  file?: string;
}

/** Files of the workspace a pick lists before "Browse…": enough to find prompts files, not a whole dataset. */
const MAX_LISTED_FILES = 50;

/**
 * A file for the conditions: the workspace's `*.EXTENSION` files first (a remote window's open dialog is
 * VS Code's own path-typing dialog, slow to use for a file already in the workspace), then "Browse…"
 * for the open dialog; straight to the dialog when the workspace has none. Undefined when dismissed.
 */
async function pickFile(scope: vscode.Uri, title: string, extension: string, filters: Record<string, string[]>, exclude: string[] = []): Promise<string | undefined> {
  const browse = async () => (await vscode.window.showOpenDialog({ title, canSelectMany: false, filters, defaultUri: vscode.Uri.file(baseDir(scope)) }))?.[0]?.fsPath;
  const folder = vscode.workspace.getWorkspaceFolder(scope);
  const found = folder
    ? await vscode.workspace.findFiles(new vscode.RelativePattern(folder, `**/*.${extension}`), `{${['**/node_modules/**', '**/.git/**', '**/.ld-surgeon/**', '**/.venv/**', ...exclude].join(',')}}`, MAX_LISTED_FILES)
    : [];
  if (!found.length) return browse();
  const items: FileItem[] = found
    .map((u) => {
      // the folder inside the workspace; nothing for its root (asRelativePath gives the root's absolute path)
      const dir = path.dirname(vscode.workspace.asRelativePath(u, false));
      return { label: `$(file) ${path.basename(u.fsPath)}`, description: dir === '.' ? undefined : dir, file: u.fsPath };
    })
    .sort((a, b) => a.file.localeCompare(b.file));
  items.push({ label: '$(folder-opened) Browse…', detail: 'a file outside the workspace' });
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder: `A .${extension} file of the workspace, or Browse…`, matchOnDescription: true });
  if (!picked) return undefined;
  return picked.file ?? browse();
}

interface SourceItem extends vscode.QuickPickItem {
  source: ConditionSpec['source'];
}

/** An SDXL pipeline (text_encoder_2/) is conditioned by prompts only; one whose tokenizer_2/ is broken counts too (the check says why). */
function isSdxl(layout: PipelineLayout | undefined): boolean {
  if (!layout) return false;
  try {
    return sdxlParts(layout) !== undefined;
  } catch {
    return true;
  }
}

/** The pipeline `target` (a pipeline folder or its denoiser) belongs to, if any. */
function pipelineLayoutOf(target: string): PipelineLayout | undefined {
  try {
    const t = resolveTarget(target);
    return t.pipeline ? readPipelineLayout(t.pipeline) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The quick pick: default prompts, a prompts file, token ids or an embeddings .npy (prompts only for an SDXL
 * pipeline); undefined when dismissed.
 */
export async function pickConditions(scope: vscode.Uri, current?: ConditionSpec, layout?: PipelineLayout): Promise<ConditionSpec | undefined> {
  const sdxl = isSdxl(layout);
  const items: SourceItem[] = conditionSourceItems(sdxl);
  for (const it of items) if (it.source === current?.source) it.description = 'current';
  const placeHolder = sdxl ? 'Which prompts should the SDXL pipeline be conditioned on?' : 'What should the pipeline be conditioned on?';
  const choice = await vscode.window.showQuickPick(items, { title: 'LD Surgeon: conditions for scoring', placeHolder });
  if (!choice) return undefined;
  const title = choice.label.replace(/^\$\([^)]*\) /, '');
  const open = (extension: string, filters: Record<string, string[]>, exclude?: string[]) => pickFile(scope, title, extension, filters, exclude);
  switch (choice.source) {
    case 'default':
      return { source: 'default' };
    case 'promptsFile': {
      const file = await open('txt', { 'Prompts (text)': ['txt'], 'All files': ['*'] }, NOT_PROMPTS_FILES);
      return file ? { source: 'promptsFile', file } : undefined;
    }
    case 'tokenIds': {
      const ids = await vscode.window.showInputBox({
        title: 'Token ids', prompt: 'Comma-separated ids, rows separated by ";" (shorter rows are padded with the pad token)',
        value: current?.source === 'tokenIds' ? current.ids : '',
        validateInput: (v) => {
          try {
            parseConditionIds(v);
            return undefined;
          } catch (e) {
            return errorText(e);
          }
        },
      });
      return ids ? { source: 'tokenIds', ids } : undefined;
    }
    case 'embeddings': {
      const file = await open('npy', { 'NumPy arrays': ['npy'] });
      return file ? { source: 'embeddings', file } : undefined;
    }
  }
}

/** The spec read and checked: against the pipeline when there is one. Throws the core's UserError. */
function check(spec: ConditionSpec, scope: vscode.Uri, pipeline: string | undefined): ConditionInput {
  const input = conditionInputFromSpec(spec, baseDir(scope));
  if (pipeline) checkConditionsForPipeline(readPipelineLayout(pipeline), input);
  return input;
}

export interface ChosenConditions {
  input: ConditionInput;
  /** what the UI says was used; undefined where conditions do not apply (a bare model, no text side) */
  line?: string;
}

/**
 * The conditions for sampling `target`: a bare model or a pipeline without a text side takes none;
 * for a conditional pipeline the setting, checked at once. With `ask` (the Score Operators
 * command) an unset setting is asked for with the quick pick and a bad choice offers the pick
 * again; undefined when the user backs out. Without it (the extension API) a bad setting throws.
 */
export async function conditionsFor(target: string, ask: boolean): Promise<ChosenConditions | undefined> {
  const scope = vscode.Uri.file(target);
  const t = resolveTarget(target);
  const layout = t.pipeline ? readPipelineLayout(t.pipeline) : undefined;
  if (!layout || (!layout.textEncoderPath && !layout.tokenizerFolder && !readSpec(scope).chosen)) return { input: { kind: 'default' } };
  let { spec, chosen } = readSpec(scope);
  if (!ask) {
    const input = check(spec, scope, layout.folder);
    return { input, line: describeConditions(input) };
  }
  for (;;) {
    if (!chosen) {
      const picked = await pickConditions(scope, spec, layout);
      if (!picked) return undefined;
      spec = picked;
    }
    try {
      const input = check(spec, scope, layout.folder);
      if (!chosen) await saveSpec(spec, scope);
      return { input, line: describeConditions(input) };
    } catch (e) {
      const again = await vscode.window.showErrorMessage(`Scoring conditions: ${errorText(e)}`, 'Choose Conditions…');
      if (again !== 'Choose Conditions…') return undefined;
      chosen = false;
    }
  }
}

/** LD Surgeon: Choose Scoring Conditions… — sets ldSurgeon.conditions for the workspace folder of `scopePath`. */
export async function chooseConditionsCommand(scopePath: string | undefined): Promise<void> {
  const scope = scopePath ? vscode.Uri.file(scopePath) : vscode.workspace.workspaceFolders?.[0]?.uri;
  if (!scope) throw new Error('open a folder first: the conditions are a workspace setting');
  const spec = await pickConditions(scope, readSpec(scope).spec, scopePath ? pipelineLayoutOf(scopePath) : undefined);
  if (!spec) return;
  const input = conditionInputFromSpec(spec, baseDir(scope));
  await saveSpec(spec, scope);
  void vscode.window.showInformationMessage(`Scoring conditions: ${describeConditions(input)}.`);
}

/**
 * The setting's conditions for distilling from `teacher`, as core decides them for the CLI too
 * (trainerConditions): prompts, token ids and, for a tokenizer the trainer cannot read, the
 * pipeline's default prompts are encoded here; undefined where the trainer makes its own.
 */
export async function distillConditions(teacher: string): Promise<TrainerConditions | undefined> {
  const c = await conditionsFor(teacher, false);
  return c ? trainerConditions(teacher, c.input) : undefined;
}
