// Score → colour. Sequential (low score = least important = pale, high = deep red), over the range
// of the scores seen so far; a log scale once scores span more than two decades, which LD-Pruner
// scores typically do (a bypassed norm layer moves the latents orders of magnitude more than a
// bypassed attention head).
import { interpolateYlOrRd } from 'd3';
import type { CandidateResult } from '../../../src/protocol/webview';
import { isPrunable } from './scores';

export interface HeatDomain {
  min: number;
  max: number;
  log: boolean;
}

/** Ratio max/min above which the scale turns logarithmic. */
export const LOG_RATIO = 100;

/** The pale end is cut off so the lowest score stays distinct from the "not scored" fill. */
const interpolate = (t: number): string => interpolateYlOrRd(0.12 + 0.88 * t);

export function heatDomain(results: Iterable<CandidateResult>): HeatDomain | null {
  let min = Infinity;
  let max = -Infinity;
  for (const r of results) {
    if (!isPrunable(r)) continue;
    const s = r.score!;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  if (min > max) return null;
  const log = min > 0 && max / min > LOG_RATIO;
  return { min, max, log };
}

export type HeatScale = (score: number) => string;

/**
 * The ramp as a table of RAMP_STEPS colours: every drawing paints ~1,000 score colours (each
 * block's score strip), and d3's ramp computes each one as a B-spline and formats it — ~30 ms of
 * an expansion's drawing on SD-1.5. 256 steps are finer than the eye tells apart on this ramp.
 */
const RAMP_STEPS = 256;
let ramp: string[] | undefined;

export function heatScale(d: HeatDomain): HeatScale {
  const table = (ramp ??= Array.from({ length: RAMP_STEPS }, (_, i) => interpolate(i / (RAMP_STEPS - 1))));
  return (score) => {
    const t = heatPosition(d, score);
    return table[Math.round((Number.isNaN(t) ? 0 : t) * (RAMP_STEPS - 1))];
  };
}

/** Position (0..1) of a score on the legend. */
export function heatPosition(d: HeatDomain, score: number): number {
  if (d.min === d.max) return 0.5;
  const t = d.log ? (Math.log(score) - Math.log(d.min)) / (Math.log(d.max) - Math.log(d.min)) : (score - d.min) / (d.max - d.min);
  return Math.min(1, Math.max(0, t));
}

/** Evenly spaced colour stops for the legend gradient. */
export function legendStops(n = 10): { offset: number; color: string }[] {
  return Array.from({ length: n + 1 }, (_, i) => ({ offset: i / n, color: interpolate(i / n) }));
}

/** Black or white, whichever reads better on `color` (an rgb(...) or #rrggbb string). */
export function textOn(color: string): '#000' | '#fff' {
  const rgb = parseColor(color);
  if (!rgb) return '#000';
  const lin = rgb.map((c) => {
    const x = c / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  });
  const l = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return l > 0.22 ? '#000' : '#fff';
}

function parseColor(c: string): [number, number, number] | undefined {
  const m = /^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/.exec(c);
  if (m) return [+m[1], +m[2], +m[3]];
  const h = /^#([0-9a-f]{6})$/i.exec(c);
  if (h) return [parseInt(h[1].slice(0, 2), 16), parseInt(h[1].slice(2, 4), 16), parseInt(h[1].slice(4, 6), 16)];
  return undefined;
}
