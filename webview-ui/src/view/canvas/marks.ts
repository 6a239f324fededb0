// Selection-for-pruning and before/after marks: a dashed outline on what is selected, hatching on
// what the last prune removed, and on a collapsed block a note of how much of it is either.
import type { Layout } from '../../model/elkGraph';
import type { ViewGraph } from '../../model/graph';
import type { VisibleGraph, VisibleItem } from '../../model/visible';
import { enclosingModules } from './ancestry';
import type { TextMeasure } from './text';
import { setAttr, setText } from './write';

export class PruneMarks {
  private marked = new Set<string>();
  private removed: Set<string> | null = null;

  constructor(private graph: ViewGraph) {}

  /** The model changed (an edit): the same marks, read against its module tree. */
  setGraph(graph: ViewGraph): void {
    this.graph = graph;
  }

  /** Candidates currently selected for pruning. */
  setMarked(ids: ReadonlySet<string>): void {
    this.marked = new Set(ids);
  }

  /** Module/node ids removed by the last prune; null leaves before/after mode. */
  setRemoved(ids: ReadonlySet<string> | null): void {
    this.removed = ids ? new Set(ids) : null;
  }

  apply(svg: SVGSVGElement, vis: VisibleGraph, layout: Layout | undefined, text: TextMeasure): void {
    const removedInside = this.removed ? this.countInside(this.removed) : new Map<string, number>();
    const markedInside = this.countInside(this.marked);
    svg.querySelectorAll<SVGGElement>('[data-key]').forEach((el) => {
      const it = vis.byKey.get(el.getAttribute('data-key')!);
      if (!it) return;
      el.classList.toggle('marked', this.marked.size > 0 && this.within(this.marked, it));
      el.classList.toggle('removed', !!this.removed && this.within(this.removed, it));
      // a collapsed block says how much of it is selected or was removed, without expanding it
      const note = el.querySelector<SVGGElement>('.inner-mark');
      if (note && it.moduleId !== undefined) {
        const r = removedInside.get(it.moduleId) ?? 0;
        const m = markedInside.get(it.moduleId) ?? 0;
        const label = r ? `${r} removed` : m ? `${m} selected` : '';
        note.classList.toggle('is-removed', r > 0);
        if (note.style.display !== (label ? '' : 'none')) note.style.display = label ? '' : 'none';
        const textEl = note.querySelector('text')!;
        setText(textEl, label);
        const w = text.width(label, true, 10) + 12;
        const box = layout?.boxes.get(it.key);
        setAttr(note.querySelector('rect')!, 'width', w.toFixed(1));
        setAttr(textEl, 'x', (w / 2).toFixed(1));
        if (box) setAttr(note, 'transform', `translate(${(box.w - w - 10).toFixed(1)},-8)`);
      }
    });
    svg.classList.toggle('before-after', !!this.removed);
  }

  /** Whether a module is selected for pruning or was removed, itself or with a module around it. */
  stateOf(moduleId: string): { marked: boolean; removed: boolean } {
    const it = { key: '', kind: 'block', parent: null, moduleId } as const;
    return { marked: this.marked.size > 0 && this.within(this.marked, it), removed: !!this.removed && this.within(this.removed, it) };
  }

  /** Whether an item is in `set` or inside a module that is. */
  private within(set: ReadonlySet<string>, it: VisibleItem): boolean {
    const g = this.graph;
    let id: string | null | undefined = it.moduleId;
    if (it.node !== undefined) {
      if (set.has(g.nodes[it.node].id)) return true;
      id ??= g.nodes[it.node].module;
    }
    while (id) {
      if (set.has(id)) return true;
      id = g.modules.get(id)?.parent ?? null;
    }
    return false;
  }

  /** How many members of `set` lie strictly inside each module. */
  private countInside(set: ReadonlySet<string>): Map<string, number> {
    const counts = new Map<string, number>();
    for (const id of set) {
      for (const p of enclosingModules(this.graph, id)) counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    return counts;
  }
}
