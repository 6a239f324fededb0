// ELK layouts kept by their input, the layouts running now, and the layouts of likely next
// expansions laid out ahead while the view is idle (prefetch).
//
// Why prefetch, and not a cheaper layout: in the page, ELK's time is mostly its code running
// unoptimised. ELK in the webview's worker has run only a handful of layouts when the user first
// expands a block, and the same SD-1.5 expansion that costs ~60 ms of CPU once ELK has run a few
// dozen layouts costs 250-450 ms on its 2nd-6th run (bench/webview.ts, cpuMs vs the page's
// ld:layout). Laying the graph out one group at a time (each level cached, the expanded group a
// fixed-size box with ports in its parent) was tried and dropped: along one expanded path every
// level changes anyway, and ELK's per-run overhead made SD-1.5's expansions dearer (warm CPU
// 37-127 ms against 31-120 for the whole graph). Other ELK settings (thoroughness 1, other node
// placers, polyline edges) saved at most ~10% on the deepest expansion and changed the picture.
// So the view lays out, while the user reads the graph, the expansions they are likely to click
// next: the block under the pointer first, then the blocks inside the one just opened (or, at
// first, the blocks on screen). Each is a finished ELK layout of exactly the graph the click will ask
// for (same input, same cache key), so the click draws it at once, and every prefetch also warms
// ELK's code for the layouts that are not prefetched.
// A prefetch starts only after the view has been idle for a moment, one at a time: a click that
// misses waits at most for the one layout in flight (and a hovered block jumps the queue).
import type { ElkNode } from 'elkjs/lib/elk-api';

export interface LayoutCacheOptions {
  /** layouts kept (most recently used last) */
  size?: number;
  /** quiet time after the last requested layout before prefetching starts, ms */
  idleMs?: number;
}

export class LayoutCache {
  private readonly cache = new Map<string, ElkNode>();
  private readonly running = new Map<string, Promise<ElkNode>>();
  /** ELK inputs to lay out ahead, most likely first: made when their turn comes (the view may have changed) */
  private queue: (() => ElkNode)[] = [];
  /** layouts asked for by the view and not yet done: prefetching waits for them */
  private busy = 0;
  private prefetching = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly size: number;
  private readonly idleMs: number;
  /** ELK runs started (prefetches included) */
  runs = 0;

  constructor(private readonly run: (graph: ElkNode) => Promise<ElkNode>, opts: LayoutCacheOptions = {}) {
    this.size = opts.size ?? 48;
    this.idleMs = opts.idleMs ?? 200;
  }

  static keyOf(graph: ElkNode): string {
    return JSON.stringify(graph);
  }

  /** The cached layout of `graph`, if any. */
  get(graph: ElkNode): ElkNode | undefined {
    return this.touch(LayoutCache.keyOf(graph));
  }

  /** ELK's layout of `graph`: from the cache, from the same layout already running (a prefetch), or a new run. */
  async layout(graph: ElkNode): Promise<ElkNode> {
    const key = LayoutCache.keyOf(graph);
    const hit = this.touch(key);
    if (hit) return hit;
    this.busy++;
    try {
      return await this.start(key, graph);
    } finally {
      if (--this.busy === 0) this.pump(this.idleMs);
    }
  }

  /**
   * Lays out ahead, once the view is idle, the graphs `inputs` make (most likely first; each made
   * only when its turn comes, and skipped when it throws); replaces the previous list.
   */
  prefetch(inputs: (() => ElkNode)[]): void {
    this.queue = [...inputs];
    this.pump(this.idleMs);
  }

  /** Lays `graph` out next, as soon as ELK is free (the pointer is on the block it expands). */
  prefetchFirst(graph: ElkNode): void {
    const key = LayoutCache.keyOf(graph);
    if (this.cache.has(key) || this.running.has(key)) return;
    this.queue.unshift(() => graph);
    this.pump(0);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }

  private touch(key: string): ElkNode | undefined {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private start(key: string, graph: ElkNode): Promise<ElkNode> {
    let p = this.running.get(key);
    if (!p) {
      this.runs++;
      p = this.run(graph).then(
        (result) => {
          this.running.delete(key);
          this.cache.set(key, result);
          if (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value!);
          return result;
        },
        (e: unknown) => {
          this.running.delete(key);
          throw e;
        },
      );
      this.running.set(key, p);
    }
    return p;
  }

  private pump(delay: number): void {
    if (this.prefetching || !this.queue.length) return;
    if (this.timer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.next();
    }, delay);
  }

  private async next(): Promise<void> {
    // a layout the view is waiting for goes first; its end pumps again
    if (this.busy > 0 || this.prefetching) return;
    let graph: ElkNode | undefined;
    let key = '';
    while (!graph && this.queue.length) {
      try {
        graph = this.queue.shift()!();
      } catch {
        continue; // the view changed under it (an edit removed the block)
      }
      key = LayoutCache.keyOf(graph);
      if (this.cache.has(key) || this.running.has(key)) graph = undefined;
    }
    if (!graph) return;
    this.prefetching = true;
    try {
      await this.start(key, graph);
    } catch {
      // a prefetch that fails costs nothing: the click lays it out (and reports) itself
    } finally {
      this.prefetching = false;
    }
    this.pump(0);
  }
}
