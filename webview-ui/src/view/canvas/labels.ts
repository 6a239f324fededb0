// What each canvas item says (title and subtitle) and how big its box is, for ELK to lay out.
import type { Size } from '../../model/elkGraph';
import { GROUP_HEADER } from '../../model/elkGraph';
import { formatCount, formatShape } from '../../model/format';
import type { ViewGraph } from '../../model/graph';
import type { VisibleItem } from '../../model/visible';
import { stackLabel, stackSize } from './stack';
import type { TextMeasure } from './text';

export interface Label {
  title: string;
  sub: string;
}

export const BLOCK_H = 48;
export const NODE_H = 36;

/** Labels by item key, built once per layout. */
export class ItemLabels {
  private readonly cache = new Map<string, Label>();

  constructor(private readonly graph: ViewGraph) {}

  clear(): void {
    this.cache.clear();
  }

  of(it: VisibleItem): Label {
    let l = this.cache.get(it.key);
    if (l) return l;
    const g = this.graph;
    if (it.kind === 'stack') {
      l = stackLabel(g, g.stackById.get(it.stackId!)!);
    } else if (it.kind === 'io') {
      const v = g.values.get(it.io!);
      l = { title: it.io!, sub: formatShape(v?.shape) };
    } else if (it.kind === 'node') {
      const n = g.nodes[it.node!];
      const out = n.outputs[0] ? g.values.get(n.outputs[0]) : undefined;
      l = { title: n.op, sub: out?.shape ? formatShape(out.shape) : shortName(n.id) };
    } else {
      const m = g.modules.get(it.moduleId!)!;
      const name = m.depth === 1 ? m.id : m.name;
      if (it.node !== undefined && it.kind === 'block') {
        const n = g.nodes[it.node];
        l = { title: name, sub: [n.op, m.params ? `${formatCount(m.params)} params` : ''].filter(Boolean).join(' · ') };
      } else {
        const parts = [`${m.shownCount} ops`];
        if (m.params) parts.push(`${formatCount(m.params)} params`);
        l = { title: name, sub: parts.join(' · ') };
      }
    }
    this.cache.set(it.key, l);
    return l;
  }
}

/** The box an item needs for its label (and, on blocks and groups, its score). */
export function itemSize(it: VisibleItem, l: Label, text: TextMeasure, g?: ViewGraph): Size {
  const scoreW = 64;
  if (it.kind === 'stack' && g) return stackSize(g.stackById.get(it.stackId!)!, l, text);
  if (it.kind === 'group') return { w: Math.min(420, text.width(l.title, true) + scoreW + 60), h: GROUP_HEADER };
  if (it.kind === 'block') {
    const w = Math.max(text.width(l.title, true) + scoreW + 30, text.width(l.sub, false, 11) + 24);
    return { w: clamp(Math.ceil(w), 150, 320), h: BLOCK_H };
  }
  const w = Math.max(text.width(l.title, true) + 24, text.width(l.sub, false, 10.5, true) + 22);
  return { w: clamp(Math.ceil(w), it.kind === 'io' ? 110 : 72, 240), h: NODE_H };
}

function shortName(id: string): string {
  const parts = id.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? id;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, x));
}
