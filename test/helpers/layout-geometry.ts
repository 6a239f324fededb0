// What the layout tests check a laid-out graph against (synthetic SD U-Net, box geometry with half a pixel of slack).
import type { Box } from '../../webview-ui/src/model/elkGraph';

/** The deepest expansion path of an SD U-Net, outermost first. */
export const CHAIN = ['down_blocks.1', 'down_blocks.1.attentions.0', 'down_blocks.1.attentions.0.transformer_blocks.0', 'down_blocks.1.attentions.0.transformer_blocks.0.attn1'];
/** Box sizes the tests lay items out at (a node, a block). */
export const size = (kind: string) => ({ w: kind === 'node' ? 90 : 160, h: kind === 'node' ? 36 : 48 });
export const overlap = (a: Box, b: Box) => a.x < b.x + b.w - 0.5 && b.x < a.x + a.w - 0.5 && a.y < b.y + b.h - 0.5 && b.y < a.y + a.h - 0.5;
export const inside = (a: Box, b: Box) => a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.w <= b.x + b.w + 0.5 && a.y + a.h <= b.y + b.h + 0.5;
export const onBorder = (p: { x: number; y: number }, b: Box) =>
  p.x >= b.x - 0.5 && p.x <= b.x + b.w + 0.5 && p.y >= b.y - 0.5 && p.y <= b.y + b.h + 0.5
  && (Math.abs(p.x - b.x) < 0.5 || Math.abs(p.x - b.x - b.w) < 0.5 || Math.abs(p.y - b.y) < 0.5 || Math.abs(p.y - b.y - b.h) < 0.5);
