// Execution provider choice. 'auto' tries the accelerators this platform can have, in order of
// expected speed (CUDA, DirectML on Windows, WebGPU, CoreML on macOS), skipping the ones this
// onnxruntime-node build does not list, and falls through when creating the session fails; CPU
// always works. The record says which provider ran and why each other one did not.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors';
import { PipelineRunner, type RunnerOptions } from '../pipeline/runner';
import type { EpRequest } from './settings';

export interface EpAttempt {
  name: string;
  outcome: 'used' | 'skipped' | 'failed';
  reason?: string;
}

export interface EpReport {
  requested: EpRequest;
  used: string;
  attempts: EpAttempt[];
}

const PLATFORM_ONLY: Record<string, NodeJS.Platform[]> = { dml: ['win32'], coreml: ['darwin'], cuda: ['win32', 'linux'] };
const PLATFORM_NAMES: Partial<Record<NodeJS.Platform, string>> = { win32: 'Windows', darwin: 'macOS', linux: 'Linux' };
const AUTO_ORDER = ['cuda', 'dml', 'webgpu', 'coreml'];
/** How people call the providers (the log lines use these names). */
const LABELS: Record<string, string> = { cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML', webgpu: 'WebGPU', coreml: 'CoreML', tensorrt: 'TensorRT' };

export const providerLabel = (name: string): string => LABELS[name] ?? name;

interface Backend {
  name: string;
  /** shipped inside onnxruntime-node's own binaries; false: a separate provider library that may be absent */
  bundled: boolean;
}

function listed(): Map<string, Backend> {
  try {
    return new Map(ort.listSupportedBackends().map((b) => [b.name, b]));
  } catch {
    return new Map([['cpu', { name: 'cpu', bundled: true }]]);
  }
}

/**
 * Whether the provider library of a non-bundled provider (CUDA, TensorRT) is where onnxruntime
 * loads it from: beside onnxruntime-node's binding. onnxruntime-node downloads it only on request,
 * so on most machines it is absent; trying it anyway makes the runtime print a loader error dump.
 */
function providerLibraryInstalled(name: string): boolean {
  let dir: string;
  try {
    dir = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return true; // cannot tell: let the session creation decide
  }
  const file = process.platform === 'win32' ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
  return existsSync(join(dir, file));
}

/**
 * WebGPU on Linux runs on Vulkan (Dawn). Without a Vulkan loader, creating the session fails anyway and Dawn
 * prints "Couldn't load Vulkan" to stderr from native code, before any line of ours: look the loader up the way
 * the dynamic linker would (its cache, LD_LIBRARY_PATH) and skip WebGPU when it is absent.
 */
function vulkanLoaderFound(): boolean {
  if (process.platform !== 'linux') return true;
  const lib = 'libvulkan.so.1';
  for (const d of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) if (existsSync(join(d, lib))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes(lib);
  } catch {
    return ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64', '/lib'].some((d) => existsSync(join(d, lib)));
  }
}

/** Why `name` cannot be tried here, or undefined when it can. */
function skipReason(name: string, backends: ReadonlyMap<string, Backend>): string | undefined {
  const platforms = PLATFORM_ONLY[name];
  if (platforms && !platforms.includes(process.platform)) return `${platforms.map((p) => PLATFORM_NAMES[p] ?? p).join(' and ')} only`;
  const b = backends.get(name);
  if (!b) return `not in this onnxruntime-node build (it has: ${[...backends.keys()].map(providerLabel).join(', ')})`;
  if (!b.bundled && !providerLibraryInstalled(name)) return 'not installed';
  if (name === 'webgpu' && !vulkanLoaderFound()) return 'unavailable: no Vulkan loader (libvulkan.so.1) on this machine';
  return undefined;
}

/**
 * Runs `create` with the requested provider ('auto': each candidate in turn until one works). An
 * explicit provider that fails is a user error; under 'auto' failures fall through to the next.
 * `what` names the model in messages.
 */
export async function withProvider<T>(request: EpRequest, what: string, create: (ep: string) => Promise<T>): Promise<{ value: T; ep: EpReport }> {
  const backends = listed();
  const attempts: EpAttempt[] = [];
  const order = request === 'auto' ? [...AUTO_ORDER, 'cpu'] : [request];
  for (const name of order) {
    const skip = name === 'cpu' ? undefined : skipReason(name, backends);
    if (skip) {
      if (request !== 'auto') throw new UserError(`execution provider '${name}': ${providerLabel(name)} ${skip === 'not installed' ? 'is not installed (its onnxruntime provider library is missing)' : `is ${skip}`}`);
      attempts.push({ name, outcome: 'skipped', reason: skip });
      continue;
    }
    try {
      const value = await create(name);
      attempts.push({ name, outcome: 'used' });
      return { value, ep: { requested: request, used: name, attempts } };
    } catch (e) {
      const reason = firstLine((e as Error).message);
      if (request !== 'auto') throw new UserError(`${what}: onnxruntime could not create a session with execution provider '${name}': ${reason}`, what);
      attempts.push({ name, outcome: 'failed', reason });
    }
  }
  throw new UserError(`${what}: onnxruntime could not create a session with any execution provider (${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')})`, what);
}

/** A pipeline's runner under the first execution provider that can load its U-Net; a runner that failed is released. */
export function openRunnerWithProvider(request: EpRequest, what: string, folder: string, options: (ep: string) => RunnerOptions): Promise<{ value: PipelineRunner; ep: EpReport }> {
  return withProvider(request, what, async (name) => {
    const r = PipelineRunner.open(folder, options(name));
    try {
      await r.unet();
      return r;
    } catch (e) {
      await r.release();
      throw e;
    }
  });
}

/** One line per provider tried: 'CPU: used', 'CUDA: not installed', 'WebGPU: no GPU adapter found'. */
export function describeEpLines(r: EpReport): string[] {
  return r.attempts.map((a) => `${providerLabel(a.name)}: ${a.outcome === 'used' ? 'used' : a.reason}`);
}

/** For logs: the provider used, then one indented line per other provider tried. */
export function describeEp(r: EpReport): string {
  const others = describeEpLines(r).filter((_, i) => r.attempts[i].outcome !== 'used');
  return [r.used, ...others.map((l) => `  ${l}`)].join('\n');
}

/** Failures people meet on machines without the hardware, said plainly. */
const KNOWN_FAILURES: [RegExp, string][] = [
  [/Failed to get a WebGPU adapter|No supported adapters/i, 'no GPU adapter found'],
  [/Failed to load (shared )?library|cannot open shared object file/i, 'not installed (its provider library cannot be loaded)'],
  [/CUDA driver version is insufficient|no CUDA-capable device/i, 'no usable CUDA device or driver'],
];

/** The gist of a session-creation failure: a known cause in plain words, else the first line without the preamble. */
function firstLine(s: string): string {
  for (const [re, text] of KNOWN_FAILURES) if (re.test(s)) return text;
  const line = (s.split('\n').find((l) => l.trim()) ?? s).replace(/^.*?could not (load this model|create a session) with (execution )?providers? \[[^\]]*\]:\s*/, '');
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}
