// The layering both hand-written layouts use (quickLayout.ts for the module level,
// expansionLayout.ts inside an opened group): longest path from the items nothing feeds, in
// Kahn's order, so an item sits one layer below the lowest of what feeds it.

/**
 * Layers of items 0..count-1 joined by `links` ([from, to] pairs; self-links ignored): `layer[i]` is
 * item i's layer, `layers[l]` lists layer l's items in model order; items left over by a cycle go in
 * a layer below the rest.
 */
export function longestPathLayers(count: number, links: Iterable<readonly [number, number]>): { layer: number[]; layers: number[][] } {
  const succ: number[][] = Array.from({ length: count }, () => []);
  const indeg = new Array<number>(count).fill(0);
  for (const [a, b] of links) {
    if (a === b) continue;
    succ[a].push(b);
    indeg[b]++;
  }
  const layer = new Array<number>(count).fill(0);
  const queue: number[] = [];
  for (let i = 0; i < count; i++) if (indeg[i] === 0) queue.push(i);
  const seen = new Set<number>();
  for (let q = 0; q < queue.length; q++) {
    const a = queue[q];
    seen.add(a);
    for (const b of succ[a]) {
      layer[b] = Math.max(layer[b], layer[a] + 1);
      if (--indeg[b] === 0) queue.push(b);
    }
  }
  const deepest = Math.max(0, ...layer);
  for (let i = 0; i < count; i++) if (!seen.has(i)) layer[i] = deepest + 1;
  const layers: number[][] = [];
  for (let i = 0; i < count; i++) (layers[layer[i]] ??= []).push(i);
  return { layer, layers };
}
