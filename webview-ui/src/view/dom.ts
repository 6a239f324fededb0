// Tiny DOM builders. Everything shown comes from model files (node names, attribute strings), so
// text always goes in through textContent, never innerHTML; no inline style attributes either
// (the CSP forbids them — styles set through CSSOM, element.style.x = ..., are allowed).

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | null | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, '').toLowerCase(), v);
    else if (k === 'class') el.setAttribute('class', String(v));
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * A codicon when the host supplied the codicon font (it adds the stylesheet link with id
 * vscode-codicon-stylesheet), else the text fallback, so buttons never show an empty box.
 */
export function icon(name: string, fallback: string): HTMLElement {
  if (hasCodicons()) return h('span', { class: `codicon codicon-${name}`, 'aria-hidden': 'true' });
  return h('span', { class: 'icon-fallback', 'aria-hidden': 'true' }, fallback);
}

let codicons: boolean | undefined;
export function hasCodicons(): boolean {
  codicons ??= !!document.getElementById('vscode-codicon-stylesheet');
  return codicons;
}

/** A button with an icon and a label; icon-only buttons keep the label as their accessible name. */
export function button(opts: { label: string; icon?: [string, string]; iconOnly?: boolean; kind?: 'primary' | 'secondary' | 'toolbar'; title?: string; onClick: (e: MouseEvent) => void }): HTMLButtonElement {
  const b = h('button', { type: 'button', class: `btn btn-${opts.kind ?? 'secondary'}${opts.iconOnly ? ' btn-icon' : ''}`, title: opts.title ?? (opts.iconOnly ? opts.label : undefined) });
  if (opts.icon) b.append(icon(opts.icon[0], opts.icon[1]));
  if (opts.iconOnly) b.setAttribute('aria-label', opts.label);
  else b.append(h('span', { class: 'btn-label' }, opts.label));
  b.addEventListener('click', opts.onClick);
  return b;
}
