// Depth stacks in the view (the host finds them: src/core/graph/stacks.ts): a run of identical blocks
// (SDXL's transformer_blocks.0..9, FLUX's 38 single blocks) draws as one item with a strip of its
// members until it is opened; "the k lowest of this stack" (stackSelection.ts) picks prunes from it.
import type { GraphIndex } from '../../../src/protocol/webview';

export interface VStack {
  /** the list's path, e.g. `down_blocks.2.attentions.0.transformer_blocks` */
  id: string;
  /** the module holding the members ('' for the top level) */
  parent: string;
  /** member module ids, in index order */
  members: string[];
  /** the list's own name (`transformer_blocks`) */
  name: string;
}

export const stackKey = (id: string): string => `s:${id}`;

/**
 * The index's stacks that the view can draw: members must be modules, siblings under `parent`, and in
 * no other stack. An entry that does not fit is dropped (the members then draw one by one).
 */
export function readStacks(index: GraphIndex, parentOf: (id: string) => string | null | undefined): VStack[] {
  const out: VStack[] = [];
  const taken = new Set<string>();
  for (const s of Array.isArray(index.stacks) ? index.stacks : []) {
    if (!s || typeof s.id !== 'string' || typeof s.parent !== 'string' || !Array.isArray(s.members) || s.members.length < 2) continue;
    const members = s.members.filter((m): m is string => typeof m === 'string');
    if (members.length !== s.members.length || new Set(members).size !== members.length) continue;
    if (members.some((m) => taken.has(m) || parentOf(m) !== s.parent)) continue;
    for (const m of members) taken.add(m);
    const name = s.parent && s.id.startsWith(s.parent + '.') ? s.id.slice(s.parent.length + 1) : s.id;
    out.push({ id: s.id, parent: s.parent, members, name });
  }
  return out;
}
