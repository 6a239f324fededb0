// Search over module paths and node names. Exported node names use scopes
// (`/down_blocks.1/attentions.0/proj_in/Conv`) while module paths use dots
// (`down_blocks.1.attentions.0.proj_in`): both are compared in the dotted form, so either
// spelling finds both.
import type { ViewGraph } from './graph';

export interface SearchEntry {
  kind: 'module' | 'node';
  /** module id, or node id */
  id: string;
  /** node index, for nodes */
  node?: number;
  op?: string;
  /** normalised text compared against the query */
  text: string;
}

export interface SearchHit {
  entry: SearchEntry;
  /** 0 exact · 1 whole trailing segment(s) · 2 starts a segment · 3 anywhere · 4 operator type */
  rank: number;
}

export function normalise(s: string): string {
  return s.toLowerCase().replace(/\//g, '.').replace(/^\.+/, '').trim();
}

export function buildSearchIndex(g: ViewGraph): SearchEntry[] {
  const out: SearchEntry[] = [];
  for (const m of g.modules.values()) if (m.id) out.push({ kind: 'module', id: m.id, text: normalise(m.id) });
  for (const n of g.nodes) {
    if (g.hidden[n.index]) continue;
    out.push({ kind: 'node', id: n.id, node: n.index, op: n.op, text: normalise(n.id) });
  }
  return out;
}

function rankToken(text: string, op: string | undefined, token: string): number {
  if (text === token) return 0;
  if (text.endsWith('.' + token)) return 1;
  if (text.startsWith(token) || text.includes('.' + token)) return 2;
  if (text.includes(token)) return 3;
  if (op && op.toLowerCase() === token) return 4;
  return -1;
}

/** Entries matching every whitespace-separated term, best first. */
export function searchGraph(entries: readonly SearchEntry[], query: string, limit = 50): SearchHit[] {
  const tokens = normalise(query).split(/\s+/).filter(Boolean);
  if (!tokens.length) return [];
  const hits: SearchHit[] = [];
  for (const entry of entries) {
    let rank = 0;
    for (const t of tokens) {
      const r = rankToken(entry.text, entry.op, t);
      if (r < 0) {
        rank = -1;
        break;
      }
      rank = Math.max(rank, r);
    }
    if (rank >= 0) hits.push({ entry, rank });
  }
  hits.sort(
    (a, b) =>
      a.rank - b.rank ||
      (a.entry.kind === b.entry.kind ? 0 : a.entry.kind === 'module' ? -1 : 1) ||
      a.entry.text.length - b.entry.text.length ||
      (a.entry.text < b.entry.text ? -1 : a.entry.text > b.entry.text ? 1 : 0),
  );
  return hits.slice(0, limit);
}
