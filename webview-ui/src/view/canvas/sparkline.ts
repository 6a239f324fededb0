// A strip of the scores inside a collapsed block: where the prunable parts are, before expanding.
import type { CandidateResult } from '../../../../src/protocol/webview';
import type { Box } from '../../model/elkGraph';
import type { HeatScale } from '../../model/heatmap';
import { s } from '../dom';

/** most candidates a block's score strip shows (more are sampled evenly) */
const SPARK_MAX = 48;

/**
 * What each strip was drawn from: every recolor (a batch of scores, an edit) paints every block again,
 * and a strip whose segments are the same is left as it is instead of ~48 rects built again per block.
 */
const drawnFrom = new WeakMap<SVGGElement, { colour: HeatScale | undefined; key: string }>();

/** Redraws `g` for `list` (lowest score first) across the bottom of a block of box `b`. */
export function drawSparkline(g: SVGGElement, list: readonly CandidateResult[], b: Box | undefined, colour: HeatScale | undefined): void {
  const n = Math.min(list.length, SPARK_MAX);
  const picks: CandidateResult[] = [];
  for (let i = 0; i < n; i++) picks.push(list[Math.floor((i * list.length) / n)]);
  const key = b && colour ? `${b.w},${b.h}|${picks.map((r) => `${r.id}\0${r.score}`).join('\0')}` : '';
  const was = drawnFrom.get(g);
  if (was && was.colour === colour && was.key === key) return;
  drawnFrom.set(g, { colour, key });
  while (g.firstChild) g.removeChild(g.firstChild);
  if (!list.length || !colour || !b) return;
  const w = (b.w - 20) / n;
  for (let i = 0; i < n; i++) {
    const r = picks[i];
    const seg = s('rect', { x: (10 + i * w).toFixed(2), y: String(b.h - 7), width: Math.max(0.5, w - 0.6).toFixed(2), height: '3' });
    seg.style.fill = colour(r.score!);
    g.append(seg);
  }
}
