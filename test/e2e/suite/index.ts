// Entry point of the extension-host tests (the @vscode/test-electron contract: export run()). The runner
// (test/e2e/run.mjs) bundles this file with the test modules; mocha stays external and resolves from
// test/e2e/node_modules. Results go to results.json next to the bundle, for the runner to count.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

interface MochaTest { fullTitle(): string; duration?: number }
interface MochaRunner {
  on(event: 'test' | 'pass', fn: (t: MochaTest) => void): MochaRunner;
  on(event: 'fail', fn: (t: MochaTest, err: Error) => void): MochaRunner;
}
interface MochaInstance {
  suite: { emit(event: string, ...args: unknown[]): void };
  run(done: (failures: number) => void): MochaRunner;
}
type MochaCtor = new (opts: Record<string, unknown>) => MochaInstance;
/** run.mjs --grep: only the tests whose full title matches (empty: all) */
declare const LD_SURGEON_E2E_GREP: string;

export function run(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Mocha = require('mocha') as MochaCtor;
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000, reporter: 'spec', ...(LD_SURGEON_E2E_GREP ? { grep: LD_SURGEON_E2E_GREP } : {}) });
  // install suite()/test()/... as globals, then load the tests (bundled; evaluated on require)
  mocha.suite.emit('pre-require', globalThis, 'ld-surgeon-e2e', mocha);
  require('./activation.e2e');
  require('./modelTree.e2e');
  require('./graphEditor.e2e');
  require('./userFiles.e2e');
  require('./workerIsolation.e2e');
  require('./jobs.e2e');
  require('./scoring.e2e');
  require('./pruneDistill.e2e');
  require('./distillTask.e2e');
  require('./telemetry.e2e');
  require('./architectures.e2e');

  const tests: { title: string; state: 'passed' | 'failed'; durationMs?: number; error?: string }[] = [];
  // written after every test, so a suite that never finishes (a hang, the runner's timeout) still says how far it
  // got and which test was running when it stopped
  const report = (running: string | undefined, done: boolean) => {
    const passed = tests.filter((t) => t.state === 'passed').length;
    writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify({ done, running, passed, failed: tests.length - passed, tests }, null, 2));
  };
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      report(undefined, true);
      if (failures) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
    runner.on('test', (t) => report(t.fullTitle(), false));
    runner.on('pass', (t) => { tests.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }); report(undefined, false); });
    runner.on('fail', (t, err) => { tests.push({ title: t.fullTitle(), state: 'failed', error: err?.stack ?? String(err) }); report(undefined, false); });
  });
}
