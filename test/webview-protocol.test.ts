// The host ↔ webview protocol (src/protocol/webview.ts): validation both ways, batching, the
// request/reply helper and the HTML shell with its CSP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProtocolError,
  RequestTracker,
  WEBVIEW_PROTOCOL_VERSION,
  batchScores,
  contentSecurityPolicy,
  createNonce,
  parseFromWebview,
  parseToWebview,
  webviewHtml,
  type FromWebview,
  type ToWebview,
} from '../src/protocol/webview';
import { result, tinyUnet } from './webview-fixture';

const toWebview: ToWebview[] = [
  { type: 'init', graph: tinyUnet(), modelName: 'model.onnx', modelPath: '/m/unet/model.onnx' },
  { type: 'scores', results: [result('down.0', 0.2, 10, 20, 0.1), result('t', null, 1, 1, undefined, 'none')], reset: true },
  { type: 'scoringState', state: 'running', done: 3, total: 90 },
  { type: 'weightStats', requestId: 4, tensorName: 'w', stats: { dtype: 'float32', shape: [2, 2], count: 4, min: -1, max: 1, mean: 0, std: 0.5, histogram: { lo: -1, hi: 1, counts: [1, 2, 1] } } },
  { type: 'weightStats', requestId: 5, tensorName: 'w', error: 'external data file missing' },
  { type: 'pruneResult', ok: true, checks: [{ name: 'onnx checker', status: 'passed' }], speedup: 1.3, paramsBefore: 100, paramsAfter: 70, removedIds: ['down.0'], outputPath: '/m/out.onnx' },
  { type: 'pruneState', state: 'running' },
  { type: 'qualityState', pipeline: '/m/p.pruned', state: 'running' },
  { type: 'qualityState', pipeline: '/m/p.pruned', state: 'done', quality: { metric: 'FID', original: 13.7, measured: 15.1, originalSpread: 0.8, measuredSpread: 0.9, n: 200, latentDistance: 3.2, file: '/m/p.pruned/quality.json' } },
  { type: 'distillState', state: 'done', outputPath: '/m/distilled' },
  { type: 'reveal', moduleId: 'mid.attentions.0' },
  { type: 'init', graphJson: '{"schema":"ld-surgeon/graph-index@1"}', modelName: 'm.onnx', modelPath: '/m/m.onnx' },
  { type: 'selectionBudget', metric: 'flops', percent: 30 },
];

const fromWebview: FromWebview[] = [
  { type: 'ready', protocolVersion: WEBVIEW_PROTOCOL_VERSION },
  { type: 'requestWeightStats', requestId: 1, tensorName: 'conv_in.weight' },
  { type: 'applyPrune', ids: ['down.0', 'mid.attentions.0'] },
  { type: 'distill', prunedPath: '/m/out.onnx' },
  { type: 'measureQuality', pipeline: '/m/p.pruned' },
  { type: 'scoreOperators' },
  { type: 'cancelScoring' },
  { type: 'openNode', nodeId: '/conv_in/Conv' },
  { type: 'edit', edit: { kind: 'bypass', module: 'mid_block.attentions.0' } },
  { type: 'edit', edit: { kind: 'set-attribute', node: '/conv_in/Conv', name: 'strides', input: { type: 'text', value: '[2, 2]' } } },
  { type: 'selectionChanged', ids: [] },
  { type: 'reportError', message: 'boom' },
];

test('every message survives postMessage (JSON and structured clone) and validates on the other side', () => {
  for (const m of toWebview) {
    assert.deepEqual(parseToWebview(JSON.parse(JSON.stringify(m))), m);
    assert.deepEqual(parseToWebview(structuredClone(m)), m);
  }
  for (const m of fromWebview) {
    assert.deepEqual(parseFromWebview(JSON.parse(JSON.stringify(m))), m);
    assert.deepEqual(parseFromWebview(structuredClone(m)), m);
  }
});

test('malformed messages are rejected with a message naming the problem', () => {
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    [[], /not an object/],
    [{ type: 'explode' }, /unknown message type "explode"/],
    [{ type: 'toString' }, /unknown message type/],
    [{ type: 'scores', results: [{ id: 'a', score: 'high', params: 1, flops: 1, modification: 'remove' }] }, /result a: score/],
    [{ type: 'scores', results: [{ id: 'a', score: NaN, params: 1, flops: 1, modification: 'remove' }] }, /score must be a finite number or null/],
    [{ type: 'scores', results: [{ id: 'a', score: 1, params: 1, flops: 1, modification: 'delete' }] }, /unknown modification delete/],
    [{ type: 'scoringState', state: 'paused' }, /unknown scoring state/],
    [{ type: 'weightStats', requestId: 1, tensorName: 'w' }, /needs stats or error/],
    [{ type: 'selectionBudget', metric: 'params', percent: 130 }, /within 0..100/],
    [{ type: 'qualityState', pipeline: '/m/p.pruned', state: 'done' }, /qualityState done needs quality/],
    [{ type: 'init', modelName: 'a', modelPath: 'b' }, /init needs graph \(an object\) or graphJson/],
    [{ type: 'init', graphJson: '', modelName: 'a', modelPath: 'b' }, /init needs graph/],
  ];
  for (const [m, re] of bad) assert.throws(() => parseToWebview(m), (e: unknown) => e instanceof ProtocolError && re.test((e as Error).message), String(re));
  assert.throws(() => parseFromWebview({ type: 'applyPrune', ids: [] }), /non-empty list/);
  assert.throws(() => parseFromWebview({ type: 'requestWeightStats', requestId: 1 }), /tensorName/);
  assert.throws(() => parseFromWebview({ type: 'ready' }), /protocolVersion/);
  assert.throws(() => parseFromWebview({ type: 'edit', edit: { kind: 'delete-everything' } }), /known kind/);
  assert.throws(() => parseFromWebview({ type: 'edit' }), /known kind/);
  assert.throws(() => parseFromWebview({ type: 'init', graph: {}, modelName: '', modelPath: '' }), /unknown message type "init"/, 'host-bound messages are not accepted from the webview');
});

test('scores travel in small batches that add up to the whole list', () => {
  const all = Array.from({ length: 450 }, (_, i) => result(`m.${i}`, i / 1000, i, i));
  const batches = batchScores(all);
  assert.deepEqual(batches.map((b) => (b.type === 'scores' ? b.results.length : -1)), [200, 200, 50]);
  assert.deepEqual(batches.flatMap((b) => (b.type === 'scores' ? b.results : [])), all);
  assert.deepEqual(batchScores([]), []);
  assert.throws(() => batchScores(all, 0), /at least 1/);
});

test('request/reply: replies settle their own request in any order; late and unknown ids are ignored', async () => {
  const tracker = new RequestTracker<string>(0);
  const sent: number[] = [];
  const a = tracker.request((id) => sent.push(id));
  const b = tracker.request((id) => sent.push(id));
  assert.equal(sent.length, 2);
  assert.notEqual(sent[0], sent[1]);
  assert.ok(tracker.settle(sent[1], 'B'));
  assert.ok(tracker.settle(sent[0], 'A'));
  assert.deepEqual(await Promise.all([a, b]), ['A', 'B']);
  assert.equal(tracker.settle(sent[0], 'again'), false);
  assert.equal(tracker.settle(999, 'x'), false);
  const c = tracker.request(() => undefined);
  tracker.rejectAll('view closed');
  await assert.rejects(c, /view closed/);
  await assert.rejects(tracker.request(() => { throw new Error('postMessage failed'); }), /postMessage failed/);
  assert.equal(tracker.size, 0);
});

test('request/reply: a request nobody answers times out', async () => {
  const tracker = new RequestTracker<string>(20);
  await assert.rejects(tracker.request(() => undefined), /no reply within 20 ms/);
  assert.equal(tracker.size, 0);
});

test('the HTML shell carries the strict CSP and loads only nonce-tagged scripts from the given URIs', () => {
  const nonce = createNonce();
  assert.match(nonce, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(createNonce(), nonce);
  const src = 'https://file+.vscode-resource.vscode-cdn.net';
  const html = webviewHtml({ scriptUri: `${src}/ext/dist/webview.js`, styleUri: `${src}/ext/dist/webview.css`, cspSource: src, nonce, codiconsUri: `${src}/ext/codicon.css`, title: 'a "quoted" <name>' });
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1];
  assert.equal(
    csp,
    `default-src 'none'; img-src ${src} data:; style-src ${src} 'nonce-${nonce}'; script-src 'nonce-${nonce}'; worker-src blob:; font-src ${src}`,
  );
  assert.equal(contentSecurityPolicy(src, nonce), csp);
  const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0][1], new RegExp(`nonce="${nonce}"`));
  assert.match(scripts[0][1], /src="https:\/\/file\+\.vscode-resource\.vscode-cdn\.net\/ext\/dist\/webview\.js"/);
  assert.equal(scripts[0][2].trim(), '', 'no inline script body');
  assert.ok(!/\sstyle="/.test(html), 'no inline style attributes');
  assert.match(html, /<link rel="stylesheet" href="[^"]+webview\.css">/);
  assert.match(html, /id="vscode-codicon-stylesheet" href="[^"]+codicon\.css"/);
  assert.match(html, /<title>a &quot;quoted&quot; &lt;name&gt;<\/title>/);
  assert.ok(!webviewHtml({ scriptUri: 'a', styleUri: 'b', cspSource: src, nonce }).includes('codicon'));
  assert.throws(() => webviewHtml({ scriptUri: 'a', styleUri: 'b', cspSource: src, nonce: 'short' }), /nonce/);
  assert.throws(() => webviewHtml({ scriptUri: 'a', styleUri: 'b', cspSource: "x; script-src 'unsafe-inline'", nonce }), /cspSource/);
  // VS Code's real webview.cspSource quotes 'self': it must be accepted as is
  assert.match(webviewHtml({ scriptUri: 'a', styleUri: 'b', cspSource: "'self' https://*.vscode-cdn.net", nonce }), /script-src 'nonce-/);
});

test('modelCheck: a done result needs its checks and version, a failed one its error; checkModel from the webview parses', () => {
  assert.doesNotThrow(() => parseToWebview({ type: 'modelCheck', state: 'running' }));
  assert.doesNotThrow(() => parseToWebview({ type: 'modelCheck', state: 'done', version: 1, checks: [{ name: 'onnxruntime', status: 'passed' }], maxAbsDiff: 0.02, seconds: 3 }));
  assert.throws(() => parseToWebview({ type: 'modelCheck', state: 'done', checks: [] }), /checks and version/);
  assert.throws(() => parseToWebview({ type: 'modelCheck', state: 'failed' }), /needs error/);
  assert.throws(() => parseToWebview({ type: 'modelCheck', state: 'queued' }), /unknown modelCheck state/);
  assert.deepEqual(parseFromWebview({ type: 'checkModel' }), { type: 'checkModel' });
});
