// Adds a task to a folder's .vscode/tasks.json, keeping the user's comments and formatting (jsonc-parser edits
// the text rather than re-serializing it), replacing an existing task of the same label, written atomically (temp file + rename).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
// the ES module build: the package's default (UMD) build loads its parts with a require() that esbuild cannot
// follow, so a bundle of it fails at run time with "Cannot find module './impl/format'"
import { applyEdits, findNodeAtLocation, modify, parseTree, type FormattingOptions, type ParseError, printParseErrorCode } from 'jsonc-parser/lib/esm/main.js';
import { UserError } from '../../core/errors';
import { writeFileAtomic } from '../../core/pipeline/output-files';

const EMPTY_TASKS = '{\n  // See https://go.microsoft.com/fwlink/?LinkId=733558 for the tasks.json format\n  "version": "2.0.0",\n  "tasks": []\n}\n';

/** The new tasks.json text with `task` in its `tasks` list (appended, or replacing the task with the same label). */
export function withTask(text: string, task: Record<string, unknown> & { label: string }, file: string): string {
  const source = text.trim() ? text : EMPTY_TASKS;
  const errors: ParseError[] = [];
  const root = parseTree(source, errors, { allowTrailingComma: true, disallowComments: false });
  if (!root || errors.length || root.type !== 'object') {
    const why = errors.length ? `${printParseErrorCode(errors[0].error)} at offset ${errors[0].offset}` : 'it is not a JSON object';
    throw new UserError(`${file}: cannot add the task, the file does not parse (${why}); fix it and try again`, file);
  }
  const indent = /\n( +)"/.exec(source)?.[1].length ?? 2;
  const formattingOptions: FormattingOptions = { insertSpaces: !/\n\t/.test(source), tabSize: indent, eol: source.includes('\r\n') ? '\r\n' : '\n' };
  let out = source;
  if (!findNodeAtLocation(root, ['version'])) out = applyEdits(out, modify(out, ['version'], '2.0.0', { formattingOptions }));
  const tasks = findNodeAtLocation(parseTree(out)!, ['tasks']);
  if (tasks && tasks.type !== 'array') throw new UserError(`${file}: "tasks" is not a list; fix it and try again`, file);
  const same = tasks?.children?.findIndex((t) => t.type === 'object' && findNodeAtLocation(t, ['label'])?.value === task.label) ?? -1;
  const edits = tasks
    ? modify(out, ['tasks', same >= 0 ? same : -1], task, { formattingOptions, isArrayInsertion: same < 0 })
    : modify(out, ['tasks'], [task], { formattingOptions });
  return applyEdits(out, edits);
}

/** Writes `task` into `<folder>/.vscode/tasks.json` through a temp file + rename; returns the file. */
export async function saveTask(folder: string, task: Record<string, unknown> & { label: string }): Promise<string> {
  const file = path.join(folder, '.vscode', 'tasks.json');
  let text = '';
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError(`${file}: cannot read it (${(e as Error).message})`, file);
  }
  const next = withTask(text, task, file);
  await fs.mkdir(path.dirname(file), { recursive: true });
  writeFileAtomic(file, next);
  return file;
}
