// The SVG of canvas items: the shapes each kind is built from (once, on enter) and their placement
// and sizing (on every layout). Colours and marks are applied by their own overlays.
import { GROUP_HEADER, type Box } from '../../model/elkGraph';
import type { VisibleItem } from '../../model/visible';
import { s } from '../dom';
import { NODE_H, type Label } from './labels';
import type { TextMeasure } from './text';

/** Arrow heads and hatch patterns the stylesheet refers to by id. */
export function canvasDefs(): SVGDefsElement {
  const defs = s('defs');
  defs.append(
    s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse', class: 'arrow' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' })),
    s('marker', { id: 'arrow-hot', viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse', class: 'arrow hot' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' })),
    s('pattern', { id: 'hatch', patternUnits: 'userSpaceOnUse', width: '7', height: '7', patternTransform: 'rotate(45)' }, s('rect', { class: 'hatch-bg', width: '7', height: '7' }), s('line', { class: 'hatch-line', x1: '0', y1: '0', x2: '0', y2: '7' })),
    s('pattern', { id: 'hatch-removed', patternUnits: 'userSpaceOnUse', width: '8', height: '8', patternTransform: 'rotate(-45)' }, s('line', { class: 'removed-line', x1: '0', y1: '0', x2: '0', y2: '8' })),
  );
  return defs;
}

export interface ItemLook {
  label: Label;
  aria: string;
  expandable: boolean;
  /** the operator of a node item */
  op?: string;
  /**
   * what VS Code's webview context menu gets (data-vscode-context): the module or node the edit
   * commands (bypass, rename…) act on
   */
  context?: Record<string, string | boolean>;
}

export function buildItem(el: SVGGElement, it: VisibleItem, look: ItemLook): void {
  const { label: l, expandable } = look;
  el.setAttribute('class', `item ${it.kind}${expandable ? ' expandable' : ''}${it.kind === 'block' && it.node !== undefined ? ' layer' : ''}${it.kind === 'node' ? ` op-${opCategory(look.op!)}` : ''}`);
  el.setAttribute('data-key', it.key);
  el.setAttribute('tabindex', '0');
  el.setAttribute('role', 'button');
  el.setAttribute('aria-label', look.aria);
  if (look.context) el.setAttribute('data-vscode-context', JSON.stringify(look.context));
  el.append(s('rect', { class: 'body', rx: it.kind === 'io' ? NODE_H / 2 : it.kind === 'node' ? 4 : 6 }), s('rect', { class: 'outline', rx: it.kind === 'io' ? NODE_H / 2 + 3 : 8 }));
  if (it.kind === 'node') el.append(s('rect', { class: 'stripe', x: 0, y: 0, width: 4, rx: 2 }));
  const title = s('text', { class: 'title', x: it.kind === 'io' ? 0 : 12, y: it.kind === 'block' ? 19 : 15 });
  title.textContent = l.title;
  const sub = s('text', { class: 'sub', x: it.kind === 'io' ? 0 : 12, y: it.kind === 'block' ? 36 : 29 });
  sub.textContent = l.sub;
  el.append(title, sub);
  if (it.kind === 'block') el.append(s('text', { class: 'score', y: 19 }));
  if (it.kind === 'block' && it.node === undefined) el.append(s('g', { class: 'spark', 'aria-hidden': 'true' }), s('g', { class: 'inner-mark' }, s('rect', { height: 16, rx: 8 }), s('text', { y: 11.5 })));
  if (expandable) el.append(s('path', { class: 'expander', d: 'M0,0 h6 M3,-3 v6' }));
}

export function sizeItem(el: SVGGElement, it: VisibleItem, b: Box, text: TextMeasure): void {
  const body = el.querySelector('.body')!;
  body.setAttribute('width', String(b.w));
  body.setAttribute('height', String(b.h));
  sizeOutline(el, b);
  el.querySelector('.stripe')?.setAttribute('height', String(b.h));
  if (it.kind === 'io') {
    el.querySelector('.title')!.setAttribute('x', String(b.w / 2));
    el.querySelector('.sub')!.setAttribute('x', String(b.w / 2));
  }
  el.querySelector('.score')?.setAttribute('x', String(b.w - 10));
  el.querySelector('.expander')?.setAttribute('transform', `translate(${b.w - 16},${b.h - 11})`);
  text.fit(el.querySelector('.title')!, b.w - (it.kind === 'block' ? 80 : 16), true);
  const mono = it.kind === 'node' || it.kind === 'io';
  text.fit(el.querySelector('.sub')!, b.w - (it.kind === 'block' ? 28 : 16), false, mono ? 10.5 : 11, mono);
}

/** An expanded module: a frame around its contents with a header that collapses it. */
export function buildGroup(el: SVGGElement, it: VisibleItem, l: Label, aria: string): void {
  el.append(
    s('rect', { class: 'frame', rx: 8 }),
    s('rect', { class: 'body header-bg', rx: 8 }),
    s('rect', { class: 'outline', rx: 10 }),
  );
  const header = s('g', { class: 'header', tabindex: '0', role: 'button', 'data-key': it.key, 'aria-label': aria, 'aria-expanded': 'true' });
  header.append(s('rect', { class: 'header-hit', rx: 8 }), s('path', { class: 'collapser', d: 'M0,0 h7' }));
  const title = s('text', { class: 'title', x: 28, y: 19 });
  title.textContent = l.title;
  const count = s('text', { class: 'sub', y: 19 });
  count.textContent = l.sub;
  header.append(title, count, s('text', { class: 'score', y: 19 }));
  el.append(header);
}

export function placeGroup(el: SVGGElement, b: Box, text: TextMeasure): void {
  el.setAttribute('transform', `translate(${b.x},${b.y})`);
  const frame = el.querySelector('.frame')!;
  frame.setAttribute('width', String(b.w));
  frame.setAttribute('height', String(b.h));
  const hb = el.querySelector('.header-bg')!;
  hb.setAttribute('width', String(b.w));
  hb.setAttribute('height', String(GROUP_HEADER));
  sizeOutline(el, b);
  const hit = el.querySelector('.header-hit')!;
  hit.setAttribute('width', String(b.w));
  hit.setAttribute('height', String(GROUP_HEADER));
  el.querySelector('.collapser')!.setAttribute('transform', `translate(11,${GROUP_HEADER / 2 - 1})`);
  const title = el.querySelector<SVGTextElement>('.title')!;
  const titleW = text.width(title.textContent ?? '', true);
  const sub = el.querySelector<SVGTextElement>('.sub')!;
  sub.setAttribute('x', String(28 + titleW + 10));
  const subRoom = b.w - (28 + titleW + 10) - 72;
  sub.style.display = subRoom > 40 ? '' : 'none';
  if (subRoom > 40) text.fit(sub, subRoom, false, 11);
  el.querySelector('.score')!.setAttribute('x', String(b.w - 10));
}

/** The focus/selection outline, 3 px outside the box. */
function sizeOutline(el: SVGGElement, b: Box): void {
  const outline = el.querySelector('.outline')!;
  outline.setAttribute('x', '-3');
  outline.setAttribute('y', '-3');
  outline.setAttribute('width', String(b.w + 6));
  outline.setAttribute('height', String(b.h + 6));
}

/** Broad operator families, shown as a coloured stripe on operators. */
export function opCategory(op: string): string {
  if (/^(Conv|ConvTranspose|Gemm|MatMul|MatMulInteger|QLinearConv|QLinearMatMul|Einsum)$/.test(op)) return 'linear';
  if (/Norm|^(InstanceNormalization|LayerNormalization|GroupNormalization|BatchNormalization|LpNormalization)$/.test(op)) return 'norm';
  if (/^(Relu|LeakyRelu|Sigmoid|Tanh|Gelu|Erf|Softmax|LogSoftmax|Elu|Selu|HardSigmoid|HardSwish|Mish|Softplus|PRelu)$/.test(op)) return 'activation';
  if (/^(Add|Sub|Mul|Div|Pow|Sqrt|Exp|Log|Neg|Abs|Reciprocal|Sin|Cos|Min|Max|Sum|Mean|Where|Equal|Less|Greater)$/.test(op)) return 'math';
  if (/^(Reshape|Transpose|Concat|Split|Slice|Gather|Squeeze|Unsqueeze|Flatten|Expand|Tile|Pad|Resize|Shape|Cast|Identity|Constant|ConstantOfShape|Range|ScatterND|DepthToSpace|SpaceToDepth)$/.test(op)) return 'shape';
  if (/Pool|^Reduce/.test(op)) return 'reduce';
  return 'other';
}
