// Execution provider choice. 'auto' tries the accelerators this platform can have, in order of
// expected speed (CUDA, DirectML on Windows, WebGPU, CoreML on macOS), skipping the ones this
// onnxruntime-node build does not list, and falls through when creating the session fails; CPU
// always works. The record says which provider ran and why each other one did not.
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors';
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
const AUTO_ORDER = ['cuda', 'dml', 'webgpu', 'coreml'];

function listed(): Set<string> {
  try {
    return new Set(ort.listSupportedBackends().map((b) => b.name));
  } catch {
    return new Set(['cpu']);
  }
}

/** Why `name` cannot be tried here, or undefined when it can. */
function skipReason(name: string, backends: ReadonlySet<string>): string | undefined {
  const platforms = PLATFORM_ONLY[name];
  if (platforms && !platforms.includes(process.platform)) return `not available on ${process.platform}`;
  if (!backends.has(name)) return `this onnxruntime-node build does not include it (it has: ${[...backends].join(', ')})`;
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
      if (request !== 'auto') throw new UserError(`execution provider '${name}' is ${skip}`);
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

/** One line for logs: 'cpu (cuda: skipped, not available …; webgpu: failed, …)'. */
export function describeEp(r: EpReport): string {
  const others = r.attempts.filter((a) => a.outcome !== 'used').map((a) => `${a.name}: ${a.outcome}, ${a.reason}`);
  return others.length ? `${r.used} (${others.join('; ')})` : r.used;
}

/** The gist of a session-creation failure: the first line, without the 'path: could not create…' preamble. */
function firstLine(s: string): string {
  const line = (s.split('\n').find((l) => l.trim()) ?? s).replace(/^.*?could not (load this model|create a session) with (execution )?providers? \[[^\]]*\]:\s*/, '');
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}
