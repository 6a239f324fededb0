// The CLI's command list and its start-up: `ld-surgeon --help` lists every command without loading any
// command module or onnxruntime-node (what keeps it fast, bench/cli-startup.ts), each listed command
// runs its own module, and errors from a command keep their exit codes across the two bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { commandOf, commands } from '../src/cli/commands';
import { registers } from '../src/cli/commands/registry';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'bin', 'ld-surgeon.js');
const built = existsSync(join(ROOT, 'dist', 'cli.js')) && existsSync(join(ROOT, 'dist', 'cli-run.js'));
const needsBuild = { skip: !built && 'npm run build first' };

test('every listed command has a module that registers that very name, and no module is left unlisted', () => {
  assert.deepEqual(Object.keys(registers).sort(), commands.map((c) => c.name).sort());
  for (const c of commands) {
    const program = new Command();
    registers[c.name](program);
    assert.deepEqual(program.commands.map((x) => x.name()), [c.name], `registry entry '${c.name}'`);
    assert.ok(c.summary.length > 0 && c.summary.length <= 62, `'${c.name}' summary fits one line of the list`);
  }
});

test('the command a command line runs: first word, after --verbose, or after help', () => {
  assert.equal(commandOf(['inspect', 'm.onnx', '--json'])?.name, 'inspect');
  assert.equal(commandOf(['--verbose', 'prune', 'm.onnx', '--ops', 'inspect'])?.name, 'prune');
  assert.equal(commandOf(['help', 'merge-scores'])?.name, 'merge-scores');
  assert.equal(commandOf(['--help']), undefined);
  assert.equal(commandOf([]), undefined);
  assert.equal(commandOf(['bogus', 'inspect']), undefined);
});

/** Runs the built CLI in a process that records every module it loads. */
function runRecording(args: string[]): { status: number | null; stdout: string; stderr: string; loaded: string[] } {
  const hook = `const M=require('module');const l=M._load;const seen=new Set();
M._load=function(r,p,i){seen.add(r);return l.apply(this,arguments)};
process.on('exit',()=>require('fs').writeSync(2,'\\nLOADED '+JSON.stringify([...seen])+'\\n'));`;
  const r = spawnSync(process.execPath, ['-e', `${hook}require(${JSON.stringify(CLI)})`, CLI, ...args], {
    cwd: ROOT, encoding: 'utf8',
  });
  const m = /\nLOADED (.*)\n$/.exec(r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.slice(0, m?.index), loaded: m ? JSON.parse(m[1]) as string[] : [] };
}

test('--help lists every command and loads neither the commands bundle nor onnxruntime-node', needsBuild, () => {
  const r = runRecording(['--help']);
  assert.equal(r.status, 0, r.stderr);
  for (const c of commands) assert.match(r.stdout, new RegExp(`^  ${c.name} +${c.summary.slice(0, 20)}`, 'm'));
  assert.ok(r.loaded.length > 0, 'the module hook ran');
  for (const heavy of ['onnxruntime-node', 'cli-run.js']) {
    assert.ok(!r.loaded.some((m) => m.endsWith(heavy)), `${heavy} is not loaded: ${r.loaded.join(' ')}`);
  }
  // the hook does see them when a command runs
  assert.ok(runRecording(['help', 'inspect']).loaded.some((m) => m.endsWith('cli-run.js')));
});

test("a command's own help shows its options; an unknown command is an error with the list", needsBuild, () => {
  const own = spawnSync(process.execPath, [CLI, 'help', 'inspect'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(own.status, 0, own.stderr);
  assert.match(own.stdout, /Usage: ld-surgeon inspect \[options\] <model>/);
  assert.match(own.stdout, /--depth <n>/);
  const bad = spawnSync(process.execPath, [CLI, 'inpsect', 'm.onnx'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /unknown command 'inpsect'/);
  assert.match(bad.stderr, /^ {2}inspect /m);
});

test('a bad model is one line naming the file with exit code 2 (the stack trace with --verbose)', needsBuild, () => {
  const missing = join(ROOT, 'no-such-model.onnx');
  const r = spawnSync(process.execPath, [CLI, 'inspect', missing], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim(), `ld-surgeon: ${missing}: no such file`);
  const v = spawnSync(process.execPath, [CLI, '--verbose', 'inspect', missing], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(v.status, 2);
  assert.match(v.stderr, /^UserError: .*no such file\n\s+at /);
});
