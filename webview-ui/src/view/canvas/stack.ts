// A depth stack drawn compactly: one item with the stack's name and size, and a strip of its member
// blocks, each cell coloured by its own LD-Pruner score, outlined when selected for pruning and
// hatched when the last prune removed it. A cell is its member (hover, click, context menu); the
// item itself opens into the ordinary per-block view (double-click, Enter, or its + button).
import type { CandidateResult } from '../../../../src/protocol/webview';
import type { Box } from '../../model/elkGraph';
import { formatCount } from '../../model/format';
import type { ViewGraph } from '../../model/graph';
import { textOn } from '../../model/heatmap';
import type { VStack } from '../../model/stacks';
import type { VisibleItem } from '../../model/visible';
import { s } from '../dom';
import type { TextMeasure } from './text';

export const STACK_STRIP_Y = 44;
export const STACK_STRIP_H = 16;
/** a block's height (labels.ts BLOCK_H) plus the strip */
export const STACK_H = 70;
const PAD = 12;

/** title and subtitle, as labels.ts's Label (not imported: labels.ts imports this file) */
export function stackLabel(g: ViewGraph, st: VStack): { title: string; sub: string } {
  const params = st.members.reduce((sum, m) => sum + (g.modules.get(m)?.params ?? 0), 0);
  return { title: st.name, sub: [`${st.members.length} blocks`, params ? `${formatCount(params)} params` : ''].filter(Boolean).join(' · ') };
}

/** Wide enough for the title and a cell of at least 6 px per member (FLUX's 38 single blocks: 252 px of strip). */
export function stackSize(st: VStack, l: { title: string; sub: string }, text: TextMeasure): { w: number; h: number } {
  const w = Math.max(text.width(l.title, true) + 64 + 30, text.width(l.sub, false, 11) + 40, st.members.length * 6 + 2 * PAD);
  return { w: Math.min(480, Math.max(180, Math.ceil(w))), h: STACK_H };
}

export function buildStack(el: SVGGElement, it: VisibleItem, st: VStack, l: { title: string; sub: string }, aria: string): void {
  el.setAttribute('class', 'item stack expandable');
  el.setAttribute('data-key', it.key);
  el.setAttribute('tabindex', '0');
  el.setAttribute('role', 'button');
  el.setAttribute('aria-label', aria);
  el.setAttribute('data-vscode-context', JSON.stringify({ webviewSection: 'stack', stackId: st.id, stackSize: st.members.length, preventDefaultContextMenuItems: true }));
  el.append(s('rect', { class: 'body', rx: 6 }), s('rect', { class: 'outline', rx: 8 }));
  const title = s('text', { class: 'title', x: PAD, y: 19 });
  title.textContent = l.title;
  const sub = s('text', { class: 'sub', x: PAD, y: 36 });
  sub.textContent = l.sub;
  el.append(title, sub);
  const strip = s('g', { class: 'strip', role: 'list', 'aria-label': `${st.members.length} blocks` });
  for (const m of st.members) {
    const cell = s('rect', { class: 'cell unscored', 'data-member': m, role: 'listitem', 'aria-label': m, y: STACK_STRIP_Y, height: STACK_STRIP_H, rx: 2 });
    // a member's own context: the block edits (bypass, accept…) act on it, not on the stack
    cell.setAttribute('data-vscode-context', JSON.stringify({ webviewSection: 'module', moduleId: m, preventDefaultContextMenuItems: true }));
    strip.append(cell);
  }
  el.append(strip, s('text', { class: 'stack-note', y: 19 }), s('path', { class: 'expander', d: 'M0,0 h6 M3,-3 v6' }));
}

export function sizeStack(el: SVGGElement, b: Box, text: TextMeasure): void {
  const body = el.querySelector('.body')!;
  body.setAttribute('width', String(b.w));
  body.setAttribute('height', String(b.h));
  const outline = el.querySelector('.outline')!;
  outline.setAttribute('x', '-3');
  outline.setAttribute('y', '-3');
  outline.setAttribute('width', String(b.w + 6));
  outline.setAttribute('height', String(b.h + 6));
  const cells = el.querySelectorAll<SVGRectElement>('.cell');
  const pitch = (b.w - 2 * PAD) / Math.max(1, cells.length);
  const gap = pitch >= 5 ? 1 : 0;
  cells.forEach((c, i) => {
    c.setAttribute('x', (PAD + i * pitch).toFixed(2));
    c.setAttribute('width', Math.max(1, pitch - gap).toFixed(2));
  });
  el.querySelector('.stack-note')!.setAttribute('x', String(b.w - 10));
  el.querySelector('.expander')!.setAttribute('transform', `translate(${b.w - 16},${STACK_STRIP_Y - 8})`);
  text.fit(el.querySelector('.title')!, b.w - 80, true);
  text.fit(el.querySelector('.sub')!, b.w - 40, false, 11);
}

export interface MemberLook {
  result: CandidateResult | undefined;
  fill: string;
  marked: boolean;
  removed: boolean;
}

/** Colours and marks each member's cell; the note says how many are selected or were removed. */
export function paintStack(el: SVGGElement, st: VStack, look: (member: string) => MemberLook, selected: string | undefined): void {
  let marked = 0;
  let removed = 0;
  el.querySelectorAll<SVGRectElement>('.cell').forEach((c) => {
    const m = c.getAttribute('data-member')!;
    const l = look(m);
    const r = l.result;
    const state = !r ? 'unscored' : r.modification === 'none' ? 'unmodifiable' : r.score === null ? 'unscored' : 'scored';
    c.setAttribute('class', `cell ${state}${l.marked ? ' marked' : ''}${l.removed ? ' removed' : ''}${selected === m ? ' selected' : ''}`);
    c.style.fill = state === 'scored' && l.fill ? l.fill : '';
    if (state === 'scored' && l.fill) c.style.setProperty('--ink', textOn(l.fill));
    if (l.marked) marked++;
    if (l.removed) removed++;
  });
  const note = el.querySelector('.stack-note')!;
  note.textContent = removed ? `${removed} removed` : marked ? `${marked} of ${st.members.length} selected` : '';
}
