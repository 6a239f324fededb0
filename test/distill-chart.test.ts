// The distillation chart's data side: what a run's events.jsonl turns into (losses, evaluations against
// the teacher, status), following the file while the trainer appends, and the messages to the webview.
// The fixture is a real trainer run (examples/digits-cond with up_blocks.2.attentions.0 bypassed, 80 steps,
// killed with SIGKILL after step 36, then resumed from its step-30 checkpoint), so steps 31-36 are in
// the file twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  LineSplitter, RunSeriesReducer, downsampleMinMax, nearestPoint, parseEventLines, reduceEvents, statusText,
  type Point,
} from '../src/core/distill/runSeries';
import { EventsFileFollower } from '../src/core/distill/eventsFollower';
import { parseEvent, type TrainerEvent } from '../src/core/distill/events';
import { EVENTS_PER_MESSAGE, eventMessages, parseFromChart, parseToChart } from '../src/protocol/distillChart';

const FIXTURE = path.resolve(__dirname, 'fixtures/distill/events-resumed.jsonl');
const fixtureText = readFileSync(FIXTURE, 'utf8');
const fixtureEvents = (): TrainerEvent[] => parseEventLines(fixtureText.split('\n').filter((l) => l.trim())).events;

const steps = (pts: readonly Point[]) => pts.map((p) => p.step);
const strictlyIncreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]);

test('a resumed run charts each step once, with the resumed run’s values for the redone steps', () => {
  const raw = fixtureText.split('\n').filter((l) => l.includes('"event": "step"')).map((l) => JSON.parse(l) as { step: number; loss: number });
  assert.equal(raw.filter((e) => e.step === 32).length, 2, 'the fixture logs step 32 twice (before the kill and after resume)');
  const s = reduceEvents(fixtureEvents());
  for (const part of ['total', 'task', 'out', 'feat'] as const) {
    assert.ok(strictlyIncreasing(steps(s.losses[part])), `${part}: steps go forward only`);
    assert.equal(s.losses[part].length, raw.length - 3, `${part}: the 3 redone logged steps (32, 34, 36) appear once`);
  }
  assert.ok(strictlyIncreasing(steps(s.lr)) && strictlyIncreasing(steps(s.samplesPerS)));
  const redone = raw.filter((e) => e.step === 32);
  assert.equal(s.losses.total.find((p) => p.step === 32)?.value, redone[1].loss, 'the resumed run’s loss wins');
  assert.deepEqual(s.resumes, [{ step: 30, dropped: 3 }]);
  assert.equal(s.step, 80);
  assert.equal(s.totalSteps, 80);
  assert.equal(s.device, 'cpu · float32');
});

test('evaluation series carry the teacher’s line, the student’s before value and the exported value', () => {
  const s = reduceEvents(fixtureEvents());
  assert.deepEqual(s.metrics.map((m) => m.name), ['latent_score', 'FID', 'class_accuracy']);
  const fid = s.metrics.find((m) => m.name === 'FID')!;
  assert.deepEqual(steps(fid.points), [0, 10, 20, 30, 40, 50, 60, 70, 80]);
  assert.ok(Math.abs(fid.teacher! - 62.39968143046406) < 1e-9, 'teacher FID from the step-0 evaluation');
  assert.equal(fid.before, fid.points[0].value, 'before = the step-0 evaluation');
  assert.ok(Math.abs(fid.after! - 65.34232662308273) < 1e-9, 'exported model’s FID from the done line');
  assert.equal(fid.higherIsBetter, false);
  assert.equal(s.metrics.find((m) => m.name === 'class_accuracy')!.higherIsBetter, true);
  assert.equal(s.metrics.find((m) => m.name === 'latent_score')!.teacher, 0);
  assert.equal(s.bestStep, 10);
  assert.equal(s.state, 'done');
  assert.equal(statusText(s), 'done: exported /tmp/chartrun-work/out.onnx');
});

test('the teacher line survives when the step-0 evaluation is missing from the file (done repeats it)', () => {
  const events = fixtureEvents().filter((e) => !(e.event === 'eval' && e.step === 0));
  const fid = reduceEvents(events).metrics.find((m) => m.name === 'FID')!;
  assert.ok(Math.abs(fid.teacher! - 62.39968143046406) < 1e-9);
  assert.ok(Math.abs(fid.before! - 66.00727224295258) < 1e-9);
});

const start = (extra: Record<string, unknown> = {}): TrainerEvent => ({ event: 'start', steps: 100, device: 'cuda:0', device_name: 'NVIDIA H100 80GB HBM3', precision: 'bfloat16', eval_every: 25, ...extra });
const step = (n: number, loss = 1 / n): TrainerEvent => ({ event: 'step', step: n, loss, loss_task: loss / 2, loss_out: loss / 4, loss_feat: loss / 4, lr: 1e-4, samples_per_s: 50 });

test('status texts follow the run: waiting, preparing, running, cancelled, error, done', () => {
  assert.equal(statusText(reduceEvents([])), 'waiting for the trainer to start…');
  const prep = reduceEvents([start(), { event: 'setup' }, { event: 'data_progress', done: 8, total: 16 }]);
  assert.equal(prep.state, 'preparing');
  assert.equal(statusText(prep), 'generating training latents 8/16');
  assert.equal(prep.device, 'cuda:0 · NVIDIA H100 80GB HBM3 · bfloat16');
  const evaluated = reduceEvents([start(), { event: 'data', source: 't', samples: 16, cached: false }, { event: 'eval', step: 0, metrics: { FID: 30 }, teacher: { FID: 20 }, best: true }]);
  assert.equal(statusText(evaluated), 'training: waiting for the first step…');
  const running = reduceEvents([start(), step(1), step(2)]);
  assert.equal(statusText(running), 'running: step 2/100');
  const cancelled = reduceEvents([start(), step(1), step(12), { event: 'cancelled', step: 12, checkpoint: '/r/ckpt-12.pt' }]);
  assert.equal(statusText(cancelled), 'cancelled at step 12/100 (checkpoint /r/ckpt-12.pt; resume to continue)');
  const failed = reduceEvents([start(), step(1), step(2), { event: 'error', message: 'CUDA out of memory' }]);
  assert.equal(statusText(failed), 'error at step 2: CUDA out of memory');
  assert.equal(statusText(reduceEvents([{ event: 'error', message: '--student is required' }])), 'error: --student is required');
  const notExported = reduceEvents([start(), step(1), { event: 'done', output: null, best_step: 1 }]);
  assert.equal(statusText(notExported), 'done (not exported)');
});

test('a trainer found gone without a final event: the run is stopped, and a resume brings it back', () => {
  const reducer = new RunSeriesReducer().addAll([start({ pid: 4242, host: 'gpu-7' }), step(1), step(12)]);
  assert.deepEqual(reducer.series.trainer, { pid: 4242, host: 'gpu-7' });
  reducer.markTrainerGone();
  assert.equal(reducer.series.state, 'lost');
  assert.equal(statusText(reducer.series), 'stopped at step 12/100: the trainer (pid 4242) stopped without a final event: it was killed or crashed; resume continues from the latest checkpoint');
  reducer.addAll([start({ resumed: true, pid: 5151, host: 'gpu-7' }), { event: 'resume', step: 10 }, step(11)]);
  assert.equal(reducer.series.state, 'running');
  assert.deepEqual(reducer.series.trainer, { pid: 5151, host: 'gpu-7' });
  // a run that ended keeps its ending: only a live run can be lost
  const done = new RunSeriesReducer().addAll([start({ pid: 1, host: 'h' }), step(1), { event: 'done', output: '/o.onnx' }]);
  done.markTrainerGone();
  assert.equal(done.series.state, 'done');
  // an older trainer that does not say where it runs
  assert.equal(reduceEvents([start()]).trainer, undefined);
});

test('resuming a cancelled run clears the cancelled status and keeps its steps', () => {
  const s = reduceEvents([
    start(), step(1), step(10), { event: 'cancelled', step: 10, checkpoint: '/r/ckpt-10.pt' },
    start({ resumed: true }), { event: 'resume', step: 10 }, step(11), step(20),
  ]);
  assert.equal(s.state, 'running');
  assert.deepEqual(steps(s.losses.total), [1, 10, 11, 20]);
  assert.deepEqual(s.resumes, [{ step: 10, dropped: 0 }]);
  assert.equal(statusText(s), 'running: step 20/100');
});

test('a resumed run that had no checkpoint yet starts over: the chart starts over too', () => {
  const s = reduceEvents([
    start(), { event: 'eval', step: 0, metrics: { FID: 30 }, teacher: { FID: 20 }, best: true }, step(1, 0.9), step(2, 0.8),
    { event: 'error', message: 'killed' },
    start({ resumed: true }), { event: 'eval', step: 0, metrics: { FID: 31 }, teacher: { FID: 20 }, best: true }, step(1, 0.7),
  ]);
  assert.deepEqual(s.losses.total, [{ step: 1, value: 0.7 }]);
  const fid = s.metrics[0];
  assert.deepEqual(fid.points, [{ step: 0, value: 31 }]);
  assert.equal(fid.before, 31);
  assert.equal(s.state, 'running');
});

test('a resume drops redone evaluations and falls back to the best evaluation before it', () => {
  const s = reduceEvents([
    start(), { event: 'eval', step: 0, metrics: { FID: 30 }, best: true }, step(1), step(25),
    { event: 'eval', step: 25, metrics: { FID: 25 }, best: true }, step(50), { event: 'eval', step: 50, metrics: { FID: 22 }, best: true }, step(55),
    start({ resumed: true }), { event: 'resume', step: 30 },
  ]);
  assert.deepEqual(steps(s.metrics[0].points), [0, 25]);
  assert.equal(s.bestStep, 25);
  assert.deepEqual(steps(s.losses.total), [1, 25]);
  assert.deepEqual(s.resumes, [{ step: 30, dropped: 3 }], 'steps 50 and 55 and the evaluation at 50');
});

test('a NaN loss (Python writes a bare NaN token) is reported as divergence, not silently lost', () => {
  const e = parseEvent('{"event": "step", "step": 7, "loss": NaN, "loss_task": Infinity, "loss_out": 0.1, "loss_feat": -Infinity, "lr": 1e-4}');
  assert.ok(e, 'the line still parses');
  const s = reduceEvents([start(), step(1), e!]);
  assert.deepEqual(s.diverged, { step: 7, part: 'total' });
  assert.deepEqual(steps(s.losses.total), [1], 'no NaN point is drawn');
  assert.deepEqual(s.losses.out.at(-1), { step: 7, value: 0.1 });
  assert.match(statusText(s), /loss total is not finite since step 7/);
  assert.equal(parseEvent('{"event": "error", "message": "value NaN, seen"}')?.event, 'error', 'NaN inside a string is left alone');
  assert.equal(parseEvent('not json'), undefined);
  assert.equal(parseEvent('{"no_event": 1}'), undefined);
});

test('a partial trailing line is held back until its newline arrives', () => {
  const sp = new LineSplitter();
  const line = '{"event": "step", "step": 1, "loss": 0.5}';
  assert.deepEqual(sp.push(line.slice(0, 17)), []);
  assert.equal(sp.partial, line.slice(0, 17));
  assert.deepEqual(sp.push(line.slice(17)), [], 'complete JSON without a newline is still a partial line');
  assert.deepEqual(sp.push('\n{"event": "st'), [line]);
  assert.deepEqual(sp.push('ep", "step": 2, "loss": 0.4}\r\n\n'), ['{"event": "step", "step": 2, "loss": 0.4}']);
  // the whole fixture cut at arbitrary points gives the same events as read at once
  const cut = new LineSplitter();
  const lines: string[] = [];
  for (let i = 0; i < fixtureText.length; i += 97) lines.push(...cut.push(fixtureText.slice(i, i + 97)));
  assert.deepEqual(parseEventLines(lines).events, fixtureEvents());
});

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'ld-surgeon-chart-'));
}

/** Follows `file` with the poll only (fs.watch may or may not fire in a test's time), checking by hand. */
function follower(file: string, chunkBytes?: number) {
  const got: { events: TrainerEvent[]; resets: number; skipped: number; exists: boolean | undefined } = { events: [], resets: 0, skipped: 0, exists: undefined };
  const f = new EventsFileFollower(file, {
    onEvents(events, reset, skipped) {
      if (reset) {
        got.resets++;
        got.events = [];
      }
      got.events.push(...events);
      got.skipped += skipped;
    },
    onState(s) {
      got.exists = s.exists;
    },
  }, { pollMs: 60_000, chunkBytes });
  return { f, got };
}

test('following events.jsonl: not there yet, then appended line by line, partial lines held back', async () => {
  const dir = tmp();
  const file = path.join(dir, 'events.jsonl');
  const { f, got } = follower(file);
  try {
    await f.start();
    assert.equal(got.exists, false, 'a run that has not started has no file yet');
    assert.equal(got.events.length, 0);
    writeFileSync(file, '{"event": "start", "steps": 10}\n{"event": "step", "step": 1, "lo');
    await f.check();
    assert.equal(got.exists, true);
    assert.deepEqual(got.events.map((e) => e.event), ['start'], 'the half-written step waits');
    appendFileSync(file, 'ss": 0.5}\n');
    await f.check();
    assert.deepEqual(reduceEvents(got.events).losses.total, [{ step: 1, value: 0.5 }]);
    appendFileSync(file, 'garbage\n{"event": "error", "message": "d\u00e9j\u00e0 vu \u2014 out of memory"}\n');
    await f.check();
    assert.equal(got.skipped, 1, 'a line that is no event is counted, not charted');
    assert.equal(statusText(reduceEvents(got.events)), 'error at step 1: d\u00e9j\u00e0 vu \u2014 out of memory');
  } finally {
    f.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('following replays a long file in slices without splitting characters, and restarts when the file is replaced', async () => {
  const dir = tmp();
  const file = path.join(dir, 'events.jsonl');
  // a 7-byte slice size cuts multi-byte characters and lines everywhere
  const { f, got } = follower(file, 7);
  try {
    writeFileSync(file, fixtureText + '{"event": "error", "message": "caf\u00e9 \u2603"}\n');
    await f.start();
    assert.equal(got.events.length, fixtureEvents().length + 1);
    assert.equal((got.events.at(-1) as { message: string }).message, 'caf\u00e9 \u2603');
    assert.equal(reduceEvents(got.events).losses.total.length, 42);
    // the run folder is deleted and a new run starts under the same name
    const next = path.join(dir, 'events.next');
    writeFileSync(next, '{"event": "start", "steps": 5}\n');
    renameSync(next, file);
    await f.check();
    assert.equal(got.resets, 1);
    assert.deepEqual(got.events.map((e) => e.event), ['start']);
    assert.equal(reduceEvents(got.events).totalSteps, 5);
  } finally {
    f.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 10k-step run draws at most a few points per pixel and keeps its spikes', () => {
  const pts: Point[] = Array.from({ length: 10_000 }, (_, i) => ({ step: i + 1, value: 1 / Math.sqrt(i + 1) }));
  pts[6_543] = { step: 6_544, value: 5 };
  const drawn = downsampleMinMax(pts, 800);
  assert.ok(drawn.length <= 4 * 800, `${drawn.length} points drawn`);
  assert.ok(drawn.some((p) => p.value === 5), 'the spike at step 6544 is still drawn');
  assert.deepEqual(drawn[0], pts[0]);
  assert.deepEqual(drawn.at(-1), pts.at(-1));
  assert.ok(strictlyIncreasing(steps(drawn)));
  assert.equal(downsampleMinMax(pts.slice(0, 100), 800).length, 100, 'short runs are drawn as logged');
  assert.deepEqual(nearestPoint(pts, 6_544.4), { step: 6_544, value: 5 }, 'hover finds the logged step');
  assert.deepEqual(nearestPoint([{ step: 10, value: 1 }, { step: 20, value: 2 }], 16), { step: 20, value: 2 });
});

test('a 10k-step replay reaches the webview in a few messages, the first one resetting the chart', () => {
  const events = [start({ steps: 10_000 }), ...Array.from({ length: 12_000 }, (_, i) => step((i % 10_000) + 1))];
  const msgs = eventMessages(events, true);
  assert.equal(msgs.length, Math.ceil(events.length / EVENTS_PER_MESSAGE));
  assert.deepEqual(msgs.map((m) => m.type === 'events' && m.reset), [true, false, false]);
  assert.equal(msgs.reduce((n, m) => n + (m.type === 'events' ? m.events.length : 0), 0), events.length);
  // step 1 again after step 10000 is a run that started over: only its 2,000 steps remain, no overlap
  const s = reduceEvents(msgs.flatMap((m) => (m.type === 'events' ? m.events : [])));
  assert.equal(s.losses.total.length, 2_000);
  assert.deepEqual(eventMessages([], true), [{ type: 'events', events: [], reset: true, skippedLines: 0 }], 'a reset with nothing new still clears');
  assert.deepEqual(eventMessages([], false), []);
});

test('chart messages are checked at the boundary', () => {
  assert.throws(() => parseToChart({ type: 'events', events: [{ step: 1 }], reset: false }), /trainer events/);
  assert.throws(() => parseToChart({ type: 'nope' }), /unknown message type/);
  assert.equal(parseToChart({ type: 'file', exists: false }).type, 'file');
  assert.throws(() => parseFromChart({ type: 'openOutput', path: '' }), /non-empty/);
  assert.throws(() => parseFromChart({ type: 'rendered', snapshot: { points: {} } }), /malformed/);
});
