// What a screen reader says for a canvas item: name, summary, score and what Enter does.
import { formatScore } from '../../model/format';
import type { ViewGraph } from '../../model/graph';
import type { VisibleItem } from '../../model/visible';
import type { Heat } from './heat';
import type { Label } from './labels';

export function ariaLabel(graph: ViewGraph, it: VisibleItem, l: Label, heat: Heat | undefined): string {
  const score = heat?.own && heat.result.score !== null ? `, score ${formatScore(heat.result.score)}` : '';
  switch (it.kind) {
    case 'group': return `${l.title}, expanded module${score}. Press Enter to collapse.`;
    case 'block': return `${l.title}, ${l.sub}${score}${graph.expandable(it.moduleId!) ? '. Press Enter to expand.' : ''}`;
    case 'node': return `${l.title} operator, output ${l.sub}${score}`;
    case 'io': return `graph ${it.key.startsWith('i:') ? 'input' : 'output'} ${l.title}, ${l.sub}`;
    case 'stack': return `${l.title}, depth stack of ${l.sub}. Press Enter to open it block by block.`;
  }
}
