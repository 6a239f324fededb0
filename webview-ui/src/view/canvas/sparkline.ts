// A strip of the scores inside a collapsed block: where the prunable parts are, before expanding.
import type { CandidateResult } from '../../../../src/protocol/webview';
import type { Box } from '../../model/elkGraph';
import type { HeatScale } from '../../model/heatmap';
import { s } from '../dom';

/** most candidates a block's score strip shows (more are sampled evenly) */
const SPARK_MAX = 48;

/** Redraws `g` for `list` (lowest score first) across the bottom of a block of box `b`. */
export function drawSparkline(g: SVGGElement, list: readonly CandidateResult[], b: Box | undefined, colour: HeatScale | undefined): void {
  while (g.firstChild) g.removeChild(g.firstChild);
  if (!list.length || !colour || !b) return;
  const n = Math.min(list.length, SPARK_MAX);
  const w = (b.w - 20) / n;
  for (let i = 0; i < n; i++) {
    const r = list[Math.floor((i * list.length) / n)];
    const seg = s('rect', { x: (10 + i * w).toFixed(2), y: String(b.h - 7), width: Math.max(0.5, w - 0.6).toFixed(2), height: '3' });
    seg.style.fill = colour(r.score!);
    g.append(seg);
  }
}
