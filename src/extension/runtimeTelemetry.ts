// onnxruntime's own telemetry (1DS: .ses and mat-debug-<pid>.log in the temp folder, uploads) follows
// the user's VS Code telemetry setting: off there, off in the runtime. Applied to the extension host's
// environment at activation, before anything here loads the runtime, and inherited by every job process
// the host starts (the scoring worker, the CLI for prunes), which apply it themselves before loading it
// (core/runtime/quiet.ts). A change of the setting reaches the jobs started after it; a runtime already
// loaded in the host keeps the state it loaded with.
import * as vscode from 'vscode';
import { applyRuntimeTelemetry } from '../core/runtime/telemetry';

export function followVsCodeTelemetry(): vscode.Disposable {
  applyRuntimeTelemetry(vscode.env.isTelemetryEnabled);
  return vscode.env.onDidChangeTelemetryEnabled((enabled) => applyRuntimeTelemetry(enabled));
}
