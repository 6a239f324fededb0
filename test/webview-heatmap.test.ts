// Score colouring (webview-ui/src/model/heatmap.ts) and label formatting (format.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heatDomain, heatPosition, heatScale, legendStops, LOG_RATIO, textOn } from '../webview-ui/src/model/heatmap';
import { compactId, formatCount, formatFlops, formatScore, formatShape, formatShare } from '../webview-ui/src/model/format';
import { result } from './webview-fixture';

test('the domain spans prunable scores only: unscored and unmodifiable ones do not stretch it', () => {
  const d = heatDomain([result('a', 0.2, 1, 1), result('b', 0.9, 1, 1), result('c', 50, 1, 1, undefined, 'none'), result('d', null, 1, 1)]);
  assert.deepEqual(d, { min: 0.2, max: 0.9, log: false });
  assert.equal(heatDomain([]), null);
  assert.equal(heatDomain([result('x', null, 1, 1)]), null);
});

test('scores spanning more than two decades get a log scale; zero or negative scores keep it linear', () => {
  assert.equal(heatDomain([result('a', 0.001, 1, 1), result('b', 0.001 * LOG_RATIO * 2, 1, 1)])!.log, true);
  assert.equal(heatDomain([result('a', 0, 1, 1), result('b', 5, 1, 1)])!.log, false);
  const d = { min: 0.001, max: 1, log: true };
  assert.ok(Math.abs(heatPosition(d, 0.0316) - 0.5) < 0.01, 'geometric middle sits mid-legend');
  assert.equal(heatPosition(d, 5), 1, 'clamped');
  assert.equal(heatPosition({ min: 2, max: 4, log: false }, 3), 0.5);
});

test('colours run from pale (least important) to dark (most important)', () => {
  const scale = heatScale({ min: 0, max: 1, log: false });
  const lum = (c: string) => {
    const [r, g, b] = c.match(/\d+/g)!.map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const steps = [0, 0.25, 0.5, 0.75, 1].map((x) => lum(scale(x)));
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i] < steps[i - 1], `luminance falls: ${steps.join(', ')}`);
  assert.equal(scale(-3), scale(0), 'out-of-range scores are clamped');
  assert.equal(textOn(scale(0)), '#000');
  assert.equal(textOn(scale(1)), '#fff');
  const single = heatScale({ min: 0.3, max: 0.3, log: false });
  assert.equal(single(0.3), single(99));
  const stops = legendStops(4);
  assert.equal(stops.length, 5);
  assert.equal(stops[0].color, scale(0));
});

test('labels: counts, FLOPs, shares, scores and shapes read like an ML tool prints them', () => {
  assert.equal(formatCount(859_520_964), '860M');
  assert.equal(formatCount(1234), '1.23k');
  assert.equal(formatCount(999), '999');
  assert.equal(formatFlops(1.618e12), '1.62 TFLOPs');
  assert.equal(formatFlops(512), '512 FLOPs');
  assert.equal(formatShare(0.2345), '23.4%');
  assert.equal(formatShare(0.0004), '<0.1%');
  assert.equal(formatScore(0.0014234), '0.001423');
  assert.equal(formatScore(0.00001234), '1.23e-5');
  assert.equal(formatScore(null), '—');
  assert.equal(formatShape([2, 4, 64, 64]), '2×4×64×64');
  assert.equal(formatShape(['batch', 77, 768]), 'batch×77×768');
  assert.equal(formatShape([]), 'scalar');
});

test('long candidate paths shrink their middle segments, never the block or the leaf', () => {
  assert.equal(compactId('up_blocks.3.attentions.1.transformer_blocks.0.attn1', 28), 'up_blocks.3.a1.tb0.attn1');
  assert.equal(compactId('down_blocks.1.resnets.0.conv1', 24), 'down_blocks.1.r0.conv1');
  assert.equal(compactId('mid_block.attentions.0', 40), 'mid_block.attentions.0');
  assert.equal(compactId('/up_blocks.3/attentions.1/transformer_blocks.0/attn1/to_q/MatMul', 40), '/up_blocks.3/a1/tb0/attn1/to_q/MatMul');
});

test('the tabulated score colours are the ramp\'s own to within a step, on linear and log domains', async () => {
  const { interpolateYlOrRd } = await import('d3');
  const rgb = (c: string) => c.match(/\d+/g)!.map(Number);
  for (const d of [{ min: 0.2, max: 3, log: false }, { min: 1e-4, max: 2, log: true }]) {
    const scale = heatScale(d);
    for (let i = 0; i <= 40; i++) {
      const score = d.log ? d.min * (d.max / d.min) ** (i / 40) : d.min + ((d.max - d.min) * i) / 40;
      const exact = rgb(interpolateYlOrRd(0.12 + 0.88 * heatPosition(d, score)));
      const got = rgb(scale(score));
      assert.ok(got.every((c, k) => Math.abs(c - exact[k]) <= 3), `score ${score}: ${scale(score)} vs the ramp's ${exact}`);
    }
    assert.equal(scale(d.max * 10), scale(d.max), 'clamped above');
    assert.equal(scale(-1), scale(d.min), 'clamped below (a log domain too)');
  }
});
