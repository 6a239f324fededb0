// Dev harness (not shipped): stands in for the VS Code host. Defines acquireVsCodeApi, answers the
// webview's messages like the extension would, and feeds it a synthetic SD U-Net index with
// streamed fake scores. Options come from the page URL:
//   ?theme=dark|light|hc  scores=none|stream|all  depth=1|2|3 (transformer blocks per attention:
//   1 is SD v1's layout, 2 and 3 grow it to ~7k and ~10k nodes)  budget=latency:25
import { syntheticScores, syntheticUnet } from './syntheticUnet';
import type { CandidateResult, FromWebview, GraphIndex, ToWebview, WeightStats } from '../../src/protocol/webview';

const params = new URLSearchParams(location.search);
const theme = params.get('theme') ?? 'dark';
document.body.classList.add(theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark');

// a real model's index can be injected before this script runs (bench/webview.ts does)
const injected = (window as unknown as { __ldIndex?: GraphIndex }).__ldIndex;
const index = injected ?? syntheticUnet({ depth: Number(params.get('depth') ?? 1) });
// …and its scores (test/webview-stacks.test.ts gives a DiT's blocks known scores)
const scores = (window as unknown as { __ldScores?: CandidateResult[] }).__ldScores ?? syntheticScores(index);
const log: FromWebview[] = [];
// kept in the tab's sessionStorage, as VS Code keeps a webview's state across a window reload
const STATE_KEY = 'ld-harness-state';
let state: unknown = JSON.parse(sessionStorage.getItem(STATE_KEY) ?? 'null') ?? undefined;

function send(msg: ToWebview, delay = 0): void {
  setTimeout(() => window.postMessage(msg, '*'), delay);
}

function streamScores(): void {
  const total = scores.length;
  send({ type: 'scoringState', state: 'running', done: 0, total });
  let done = 0;
  const step = () => {
    const batch = scores.slice(done, done + 12);
    done += batch.length;
    send({ type: 'scores', results: batch });
    send({ type: 'scoringState', state: done >= total ? 'done' : 'running', done, total });
    if (done < total) setTimeout(step, 120);
  };
  setTimeout(step, 300);
}

/** Deterministic bell-shaped fake statistics, so the histogram looks like a real weight's. */
function fakeStats(name: string): WeightStats {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const std = 0.02 + (h % 100) / 2000;
  const mean = ((h % 17) - 8) / 4000;
  const bins = 48;
  const counts = Array.from({ length: bins }, (_, i) => {
    const x = (i - bins / 2 + 0.5) / (bins / 8);
    return Math.round(40000 * Math.exp(-0.5 * x * x) * (1 + 0.04 * Math.sin(i * 1.7 + h)));
  });
  const i = index.values.name.indexOf(name);
  const shape = i >= 0 ? index.values.shape[i].replace(/[[\]]/g, '').split(',').map(Number) : [];
  const count = counts.reduce((a, b) => a + b, 0);
  return { dtype: 'float32', shape, count, min: mean - 4.2 * std, max: mean + 4.4 * std, mean, std, zeros: 0, histogram: { lo: mean - 4 * std, hi: mean + 4 * std, counts } };
}

const calibrated = params.get('calibration') === 'fit';
/** FID per latent-score unit of the harness's calibration */
const CALIBRATION_SLOPE = 25;

function handle(msg: FromWebview): void {
  log.push(msg);
  switch (msg.type) {
    case 'ready': {
      // ?file=broken: the host could not read the file (as a truncated .onnx); Reopen then reads it
      if (params.get('file') === 'broken') {
        send({ type: 'loadError', modelName: 'model.onnx', message: '/models/model.onnx: not a valid ONNX model: length 7713021 runs past the end of its message (at byte 20); the file is corrupt, truncated or not ONNX' });
        return;
      }
      // ?index=broken sends what an incompatible host would: an index of another shape
      const graph = params.get('index') === 'broken' ? ({ schema: 'other', modules: [] } as unknown as GraphIndex) : index;
      send({ type: 'init', graph, modelName: 'unet/model.onnx', modelPath: '/models/sd-v1-5/unet/model.onnx' });
      const mode = params.get('scores') ?? 'stream';
      if (mode === 'all') {
        send({ type: 'scores', results: scores });
        send({ type: 'scoringState', state: 'done', done: scores.length, total: scores.length });
      } else if (mode === 'stream') streamScores();
      // ?calibration=fit: the pipeline has a report.json (ld-surgeon report) to turn latent scores into FID
      send(calibrated
        ? { type: 'calibration', fit: { metric: 'FID', slope: CALIBRATION_SLOPE, n: 12, rho: 0.81, source: '/models/sd-v1-5.report/report.json' }, note: 'fit through the origin over 12 single-candidate drops in /models/sd-v1-5.report/report.json' }
        : { type: 'calibration', note: 'latent units only; run ld-surgeon report for a metric prediction' });
      const budget = params.get('budget');
      if (budget) {
        const [metric, pct] = budget.split(':');
        send({ type: 'selectionBudget', metric: metric as 'latency', percent: Number(pct) }, 50);
      }
      return;
    }
    case 'scoreOperators':
      return streamScores();
    case 'cancelScoring':
      return send({ type: 'scoringState', state: 'cancelled' });
    case 'requestWeightStats':
      return send({ type: 'weightStats', requestId: msg.requestId, tensorName: msg.tensorName, stats: fakeStats(msg.tensorName) }, 250);
    case 'applyPrune': {
      send({ type: 'pruneState', state: 'running' });
      const root = index.modules[0];
      const removed = scores.filter((s) => msg.ids.includes(s.id));
      const params0 = root.params;
      const params1 = params0 - removed.reduce((s, r) => s + r.params, 0);
      const lat = removed.reduce((s, r) => s + (r.latencyShare ?? 0), 0);
      const latentSum = removed.reduce((s, r) => s + (r.score ?? 0), 0);
      send(
        {
          type: 'pruneResult',
          ok: true,
          checks: [
            { name: 'graph is valid (onnx checker)', status: 'passed' },
            { name: 'runs on CPU (onnxruntime)', status: 'passed', detail: '1 step, batch 2' },
            { name: 'output shape unchanged', status: 'passed', detail: '[2,4,64,64]' },
            { name: 'latents close to original', status: 'passed', detail: 'score 0.213' },
            { name: 'metric', status: 'skipped', detail: 'the pipeline ships no metrics/metric.json' },
          ],
          speedup: 1 / (1 - lat * 0.92),
          latencyBeforeMs: 812,
          latencyAfterMs: 812 * (1 - lat * 0.92),
          paramsBefore: params0,
          paramsAfter: params1,
          removedIds: msg.ids,
          outputPath: '/models/sd-v1-5/unet/model.pruned.onnx',
          outputPipeline: '/models/sd-v1-5.pruned',
          predicted: calibrated
            ? { latentScore: latentSum, metric: { name: 'FID', drop: CALIBRATION_SLOPE * latentSum, n: 12, rho: 0.81 } }
            : { latentScore: latentSum, note: 'latent units only; run ld-surgeon report for a metric prediction' },
          measured: calibrated ? { latentScore: 0.213, metric: { name: 'FID', before: 13.9, after: 15.4, n: 16, indicative: true } } : { latentScore: 0.213 },
        },
        900,
      );
      return;
    }
    case 'distill':
      return send({ type: 'distillState', state: 'running', message: 'epoch 1/10' }, 200);
    case 'measureQuality':
      send({ type: 'qualityState', pipeline: msg.pipeline, state: 'running' });
      return send({
        type: 'qualityState', pipeline: msg.pipeline, state: 'done',
        quality: { metric: 'FID', original: 13.74, measured: 15.1, originalSpread: 0.8, measuredSpread: 0.9, n: 200, latentDistance: 3.214, file: `${msg.pipeline}/quality.json` },
      }, 600);
    case 'reopen':
      return send({ type: 'init', graph: index, modelName: 'model.onnx', modelPath: '/models/model.onnx' });
    default:
      return;
  }
}

(window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
  postMessage: (m: FromWebview) => setTimeout(() => handle(m), 0),
  getState: () => state,
  setState: (s: unknown) => {
    state = s;
    sessionStorage.setItem(STATE_KEY, JSON.stringify(s));
  },
});
(window as unknown as { __harness: unknown }).__harness = { log, index, scores, send };
