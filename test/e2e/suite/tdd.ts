// Typed access to mocha's TDD interface inside the extension host. suite/index.ts installs mocha's globals
// before it loads the test modules, so these forwarders find them when the modules run.
export interface TestContext {
  timeout(ms: number): void;
  skip(): never;
}
type Body = (this: TestContext) => void | Promise<void>;
type Mocha = Record<'suite' | 'test' | 'suiteSetup' | 'suiteTeardown' | 'setup' | 'teardown', (...args: unknown[]) => void>;
const g = globalThis as unknown as Mocha;

export const suite = (name: string, fn: () => void): void => g.suite(name, fn);
export const test = (name: string, fn: Body): void => g.test(name, fn);
export const suiteSetup = (fn: Body): void => g.suiteSetup(fn);
export const suiteTeardown = (fn: Body): void => g.suiteTeardown(fn);
export const setup = (fn: Body): void => g.setup(fn);
export const teardown = (fn: Body): void => g.teardown(fn);
