// DOM writes that leave an unchanged value alone. The overlays repaint every item on each redraw
// (score colours, marks); in Chromium setting an attribute or a text to the value it already has
// still invalidates the element's style and layout, so a redraw of a few hundred items that wrote
// them all made the browser recompute the whole drawing.

export function setAttr(el: Element, name: string, value: string): void {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
