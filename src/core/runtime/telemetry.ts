// onnxruntime 1.29+ on Linux and macOS starts Microsoft's 1DS telemetry when the runtime loads: every
// process leaves `.ses` and `mat-debug-<pid>.log` in the temp folder and may try to upload. We keep it
// off unless the user asks for it. The runtime reads ORT_DISABLE_TELEMETRY once, when it loads, so this
// module must run before anything imports onnxruntime-node: the CLI and the worker import it first.
// (ORT_TELEMETRY_DISABLED, the name one might guess, has no effect in onnxruntime-node 1.30.)

/** Set to 1 to let onnxruntime run its own telemetry (the CLI and the worker keep it off otherwise). */
export const RUNTIME_TELEMETRY_ENV = 'LD_SURGEON_ORT_TELEMETRY';
const ORT_SWITCH = 'ORT_DISABLE_TELEMETRY';

export function runtimeTelemetryAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[RUNTIME_TELEMETRY_ENV] === '1';
}

/**
 * The environment a process (or a child it starts) needs so that onnxruntime's telemetry is on only
 * when `allowed`. Returns a copy; `env` is not changed.
 */
export function runtimeTelemetryEnv(allowed: boolean, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, [RUNTIME_TELEMETRY_ENV]: allowed ? '1' : '0' };
  if (allowed) delete out[ORT_SWITCH];
  else out[ORT_SWITCH] = '1';
  return out;
}

/** Applies the choice to this process, before onnxruntime loads (a later call changes nothing in a loaded runtime). */
export function applyRuntimeTelemetry(allowed: boolean = runtimeTelemetryAllowed()): void {
  process.env[RUNTIME_TELEMETRY_ENV] = allowed ? '1' : '0';
  if (allowed) delete process.env[ORT_SWITCH];
  else process.env[ORT_SWITCH] = '1';
}
