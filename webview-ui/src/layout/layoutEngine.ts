// Runs ELK in a Web Worker started from a Blob URL (the webview's CSP allows `worker-src blob:`
// and nothing else), so laying out even a large expansion never blocks scrolling or typing.
import ELK, { type ELK as ElkApi, type ElkNode } from 'elkjs/lib/elk-api';
import elkWorkerSource from 'elkjs/lib/elk-worker.min.js?text';
import { warmUpGraph } from '../model/elkGraph';
import { LayoutCache } from './layoutCache';
import { quickLayout } from './quickLayout';

/**
 * How long after the view starts the warm-up layout waits for the graph. A host that answers
 * `ready` at once (a cached or small model, the dev harness) sends the graph well within it; one
 * that is still reading a model takes 0.5 s and more.
 */
const WARM_UP_DELAY_MS = 200;

export class LayoutEngine {
  private elk: ElkApi | undefined;
  private url: string | undefined;
  private generation = 0;
  private warmUpTimer: ReturnType<typeof setTimeout> | undefined;
  /** whether ELK has finished a real layout (its code is compiled and warm) */
  private warm = false;
  private lastProvisional = false;
  /**
   * Laid-out graphs kept by their ELK input (collapsing back to a state seen before, an undo: no
   * layout), the layouts running, and the ones laid out ahead (prefetch; see layoutCache.ts).
   */
  private readonly cache = new LayoutCache((graph) => this.api().layout(graph));
  /**
   * Called when ELK's layout of the graph last drawn from a provisional layout is ready: laying
   * the same graph out again now returns it at once (from the cache).
   */
  onRefined: (() => void) | undefined;

  private api(): ElkApi {
    if (!this.elk) {
      this.url = URL.createObjectURL(new Blob([elkWorkerSource], { type: 'text/javascript' }));
      const url = this.url;
      // only the layered algorithm is registered: the worker starts faster
      this.elk = new ELK({ algorithms: ['layered'], workerFactory: () => new Worker(url, { name: 'ld-surgeon-layout' }) });
    }
    return this.elk;
  }

  /**
   * Starts the worker (its script compiles meanwhile) and, unless a real layout is asked for
   * first, warms ELK's code with a small layout. The worker runs one layout at a time: a warm-up
   * still queued when the graph arrives would only delay the first paint by its own cost
   * (~0.3 s of CPU, as much as the SD-1.5 module-level layout itself), and that first real
   * layout warms the code just as well.
   */
  warmUp(): void {
    this.api();
    this.warmUpTimer ??= setTimeout(() => {
      this.warmUpTimer = undefined;
      void this.api().layout(warmUpGraph()).catch(() => undefined);
    }, WARM_UP_DELAY_MS);
  }

  /**
   * Lays out `graph`. Resolves undefined when a newer layout was requested meanwhile: only the
   * latest expansion state is ever drawn.
   */
  async layout(graph: ElkNode): Promise<ElkNode | undefined> {
    this.cancelWarmUp();
    const gen = ++this.generation;
    const cached = this.cache.get(graph);
    this.lastProvisional = false;
    if (cached) return cached;
    if (!this.warm) {
      // ELK is still cold (~1.5-2 s for its first layout in a fresh page): draw a provisional
      // layout now, and ELK's once it is done — unless a newer layout was asked for meanwhile
      const quick = quickLayout(graph);
      if (quick) {
        void this.elkLayout(graph).then(() => {
          if (gen === this.generation) this.onRefined?.();
        }, () => undefined);
        this.lastProvisional = true;
        return quick;
      }
    }
    const result = await this.elkLayout(graph);
    return gen === this.generation ? result : undefined;
  }

  /**
   * Lays out ahead, while the view is idle, the ELK inputs of likely next expansions (most likely
   * first), so that a click on one of them is drawn without waiting for ELK.
   */
  prefetch(inputs: (() => ElkNode)[]): void {
    if (this.warm) this.cache.prefetch(inputs);
  }

  /** Lays `graph` out ahead before the others (the pointer is on the block it expands). */
  prefetchFirst(graph: ElkNode): void {
    if (this.warm) this.cache.prefetchFirst(graph);
  }

  /**
   * ELK's layout of `graph` if it is cached, handed out at once (an undo back to a layout seen
   * before is drawn exactly, in the same frame); like layout(), it supersedes the layouts in flight.
   */
  cached(graph: ElkNode): ElkNode | undefined {
    const hit = this.cache.get(graph);
    if (!hit) return undefined;
    this.cancelWarmUp();
    this.generation++;
    this.lastProvisional = false;
    return hit;
  }

  /** Whether the last layout handed out was a provisional one (ELK's follows: onRefined). */
  get provisional(): boolean {
    return this.lastProvisional;
  }

  private async elkLayout(graph: ElkNode): Promise<ElkNode> {
    const result = await this.cache.layout(graph);
    this.warm = true;
    return result;
  }

  private cancelWarmUp(): void {
    if (this.warmUpTimer === undefined) return;
    clearTimeout(this.warmUpTimer);
    this.warmUpTimer = undefined;
  }

  dispose(): void {
    this.cancelWarmUp();
    this.cache.dispose();
    this.elk?.terminateWorker();
    if (this.url) URL.revokeObjectURL(this.url);
    this.elk = undefined;
  }
}
