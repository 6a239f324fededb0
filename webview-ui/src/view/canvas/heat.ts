// The score overlay on the canvas: which result colours an item (its own, or an enclosing
// module's), the fill and ink that follow, the score text, and the block sparklines.
import type { CandidateResult } from '../../../../src/protocol/webview';
import type { Box } from '../../model/elkGraph';
import { formatScore } from '../../model/format';
import type { ViewGraph } from '../../model/graph';
import { heatScale, textOn, type HeatDomain, type HeatScale } from '../../model/heatmap';
import type { ScoreBook } from '../../model/scores';
import type { VisibleItem } from '../../model/visible';
import { enclosingModules } from './ancestry';
import { drawSparkline } from './sparkline';
import { setText } from './write';

export interface Heat {
  result: CandidateResult;
  /** false when the colour comes from an enclosing candidate */
  own: boolean;
}

export function heatState(heat: Heat | undefined): 'scored' | 'inherited' | 'unscored' | 'unmodifiable' {
  if (!heat) return 'unscored';
  if (heat.own && heat.result.modification === 'none') return 'unmodifiable';
  if (heat.result.score === null || heat.result.modification === 'none') return 'unscored';
  return heat.own ? 'scored' : 'inherited';
}

export class HeatOverlay {
  private scale: HeatScale | undefined;
  private inside = new Map<string, CandidateResult[]>();
  private insideVersion = -1;

  constructor(
    private graph: ViewGraph,
    private readonly scores: ScoreBook,
  ) {}

  /** The model changed (an edit): what lies inside which module is read again. */
  setGraph(graph: ViewGraph): void {
    this.graph = graph;
    this.insideVersion = -1;
  }

  setDomain(domain: HeatDomain | null): void {
    this.scale = domain ? heatScale(domain) : undefined;
  }

  /** The fill of a score on the current scale ('' before there is one). */
  fillOf(score: number | null | undefined): string {
    return score !== null && score !== undefined && this.scale ? this.scale(score) : '';
  }

  of(it: VisibleItem): Heat | undefined {
    // a stack has no score of its own: its strip shows each member's (canvas/stack.ts)
    if (it.kind === 'io' || it.kind === 'stack') return undefined;
    const g = this.graph;
    if (it.moduleId !== undefined) {
      const own = this.scores.get(it.moduleId) ?? (it.node !== undefined ? this.scores.get(g.nodes[it.node].id) : undefined);
      if (own) return { result: own, own: true };
      let p = g.modules.get(it.moduleId)?.parent ?? null;
      while (p) {
        const r = this.scores.get(p);
        if (r) return { result: r, own: false };
        p = g.modules.get(p)?.parent ?? null;
      }
      return undefined;
    }
    const r = this.scores.forNode(g, it.node!);
    return r ? { result: r, own: r.id === g.nodes[it.node!].id } : undefined;
  }

  /** Colours one drawn item (`b`: its layout box, for the sparkline). */
  paint(el: SVGGElement, it: VisibleItem, b: Box | undefined): void {
    const body = el.querySelector<SVGRectElement>('.body');
    if (!body) return;
    const heat = this.of(it);
    const state = heatState(heat);
    if (!el.classList.contains(state)) {
      el.classList.remove('scored', 'inherited', 'unscored', 'unmodifiable');
      el.classList.add(state);
    }
    const fill = heat && heat.result.score !== null && this.scale ? this.scale(heat.result.score) : '';
    if (state === 'scored' && fill) {
      body.style.fill = fill;
      el.style.setProperty('--ink', textOn(fill));
    } else if (state === 'inherited' && fill) {
      body.style.fill = fill;
      el.style.removeProperty('--ink');
    } else {
      body.style.fill = '';
      el.style.removeProperty('--ink');
    }
    const spark = el.querySelector<SVGGElement>('.spark');
    if (spark) drawSparkline(spark, this.candidatesInside(it.moduleId!), b, this.scale);
    const scoreEl = el.querySelector('.score');
    if (scoreEl) setText(scoreEl, heat?.own ? (heat.result.modification === 'none' ? 'fixed' : formatScore(heat.result.score)) : '');
  }

  /** Prunable candidates strictly inside a module, lowest score first (cached per score version). */
  candidatesInside(moduleId: string): CandidateResult[] {
    if (this.insideVersion !== this.scores.version) {
      this.insideVersion = this.scores.version;
      this.inside.clear();
      for (const r of this.scores.all()) {
        if (r.modification === 'none' || r.score === null) continue;
        for (const p of enclosingModules(this.graph, r.id)) {
          let list = this.inside.get(p);
          if (!list) this.inside.set(p, (list = []));
          list.push(r);
        }
      }
      for (const list of this.inside.values()) list.sort((a, b) => a.score! - b.score!);
    }
    return this.inside.get(moduleId) ?? [];
  }
}
