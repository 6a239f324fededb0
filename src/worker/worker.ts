// The scoring worker: a forked Node process running one scoring job (core/scoring/job.ts) and
// reporting over the IPC channel (protocol/worker.ts). A crash or out-of-memory here fails the job,
// never the host; the score file written so far stays valid and the next run resumes from it.
// First: onnxruntime's telemetry off before the runtime loads, unless the host allows it (LD_SURGEON_ORT_TELEMETRY=1).
import '../core/runtime/quiet';
import { runScoreJob } from '../core/scoring/job';
import { CancelledError, UserError } from '../core/errors';
import { isHostMessage, WORKER_PROTOCOL_VERSION, type WorkerToHost } from '../protocol/worker';

function send(m: WorkerToHost): Promise<void> {
  return new Promise((done) => {
    if (!process.send || !process.connected) return done();
    process.send(m, undefined, undefined, () => done());
  });
}

function finish(code: number): void {
  process.exitCode = code;
  if (process.connected) process.disconnect();
  // onnxruntime's thread pools can outlive their sessions by a moment; do not wait on them
  setTimeout(() => process.exit(code), 2000).unref();
}

if (!process.send) {
  console.error('dist/worker.js is the ld-surgeon scoring worker; it is started by the CLI or the extension (child_process.fork), not by hand');
  process.exit(2);
}

const abort = new AbortController();
let started = false;

process.on('message', (m: unknown) => {
  if (!isHostMessage(m)) return;
  if (m.type === 'cancel') {
    abort.abort();
    return;
  }
  if (started) return;
  started = true;
  if (m.protocolVersion !== WORKER_PROTOCOL_VERSION) {
    void send({ type: 'error', message: `protocol version ${m.protocolVersion} is not ${WORKER_PROTOCOL_VERSION}: the worker and its host come from different builds`, userError: false }).then(() => finish(1));
    return;
  }
  const r = m.request;
  runScoreJob({ target: r.target, settings: r.settings, out: r.out, workDir: r.workDir, wait: r.wait === true, signal: abort.signal, onEvent: (e) => void send(e) })
    .then(() => finish(0))
    .catch(async (e: unknown) => {
      // a cancel before the first write: the 'cancelled' event is already on its way
      if (e instanceof CancelledError) return finish(0);
      const err = e instanceof Error ? e : new Error(String(e));
      await send({ type: 'error', message: err.message, userError: err instanceof UserError, stack: err.stack });
      finish(1);
    });
});

// the host went away: stop at the next candidate (the score file stays resumable)
process.on('disconnect', () => abort.abort());
// Ctrl-C in a terminal reaches the whole process group: the host decides (it sends cancel, then
// kills us if we do not stop), so the worker itself ignores SIGINT and saves its file
process.on('SIGINT', () => undefined);

void send({ type: 'ready', protocolVersion: WORKER_PROTOCOL_VERSION });
