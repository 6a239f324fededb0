// Imported first by the CLI and the worker entry points (a side effect on purpose): onnxruntime's
// telemetry is switched off before any module loads the runtime, unless LD_SURGEON_ORT_TELEMETRY=1.
import { applyRuntimeTelemetry } from './telemetry';

applyRuntimeTelemetry();
