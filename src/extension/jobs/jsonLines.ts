// The JSON-lines progress protocol for job processes that are not the scoring worker (the CLI, the Python
// distillation trainer): one JSON object per stdout line, each a JobEvent, e.g.
//   {"type":"progress","fraction":0.42,"message":"step 420/1000"}
//   {"type":"executionProvider","name":"cuda"}
//   {"type":"output","path":"/abs/model.distilled.onnx"}
//   {"type":"error","message":"..."}          {"type":"log","text":"..."}
// Any other stdout line is log text.
import type { JobEvent, JobProtocol } from './jobRunner';

function asEvent(m: Record<string, unknown>): JobEvent | undefined {
  switch (m.type) {
    case 'progress':
      return {
        type: 'progress',
        fraction: typeof m.fraction === 'number' ? m.fraction : undefined,
        message: typeof m.message === 'string' ? m.message : undefined,
      };
    case 'executionProvider':
      return typeof m.name === 'string' ? { type: 'executionProvider', name: m.name } : undefined;
    case 'output':
      return typeof m.path === 'string' ? { type: 'output', path: m.path } : undefined;
    case 'error':
      return typeof m.message === 'string' ? { type: 'error', message: m.message } : undefined;
    case 'log':
      return typeof m.text === 'string' ? { type: 'log', text: m.text } : undefined;
    default:
      return undefined;
  }
}

export const jsonLinesProtocol: JobProtocol = {
  interpret(message) {
    if (!message || typeof message !== 'object') return [];
    const ev = asEvent(message as Record<string, unknown>);
    // an object this protocol does not know is kept as log text rather than dropped
    return ev ? [ev] : [{ type: 'log', text: JSON.stringify(message) }];
  },
};
