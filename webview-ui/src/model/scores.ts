// The score overlay: LD-Pruner results by candidate id, arriving in batches while scoring runs.
// Kept apart from the graph model so a re-score never touches the layout.
import type { CandidateResult } from '../../../src/protocol/webview';
import type { ViewGraph } from './graph';

export class ScoreBook {
  private byId = new Map<string, CandidateResult>();
  /** bumped on every change, so views can tell whether their colours are stale */
  version = 0;

  add(results: readonly CandidateResult[], reset = false): void {
    if (reset) this.byId.clear();
    for (const r of results) this.byId.set(r.id, r);
    this.version++;
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): CandidateResult | undefined {
    return this.byId.get(id);
  }

  all(): CandidateResult[] {
    return [...this.byId.values()];
  }

  /**
   * The result that colours a node: a node-level candidate if there is one, else the innermost
   * scored module around it (the smallest unit whose removal would take this node with it).
   */
  forNode(g: ViewGraph, index: number): CandidateResult | undefined {
    const n = g.nodes[index];
    const own = this.byId.get(n.id);
    if (own) return own;
    let id: string | null = n.module;
    while (id) {
      const r = this.byId.get(id);
      if (r) return r;
      id = g.modules.get(id)?.parent ?? null;
    }
    return undefined;
  }
}

/** A candidate that the budget may select: scored, and with a modification that keeps the model valid. */
export function isPrunable(r: CandidateResult): boolean {
  return r.modification !== 'none' && r.score !== null && Number.isFinite(r.score);
}
