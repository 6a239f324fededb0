// The one graph walk the graph and surgery layers share: every value reachable from a start set,
// each visited once (a seen-set and an explicit stack, so a 10k-node U-Net cannot overflow the
// call stack). Which way it goes (producers or consumers) is the caller's `visit`.

/**
 * Visits each value reachable from `start` once, depth-first. `visit` returns the values to go on
 * to, or `false` to stop the whole walk. Returns false when a visit stopped it, true otherwise.
 */
export function walkValues(start: Iterable<string>, visit: (value: string) => Iterable<string> | false): boolean {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const next = visit(v);
    if (next === false) return false;
    for (const x of next) if (!seen.has(x)) stack.push(x);
  }
  return true;
}
