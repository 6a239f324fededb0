// Runs ELK in a Web Worker started from a Blob URL (the webview's CSP allows `worker-src blob:`
// and nothing else), so laying out even a large expansion never blocks scrolling or typing.
import ELK, { type ELK as ElkApi, type ElkNode } from 'elkjs/lib/elk-api';
import elkWorkerSource from 'elkjs/lib/elk-worker.min.js?text';
import { warmUpGraph } from '../model/elkGraph';

export class LayoutEngine {
  private elk: ElkApi | undefined;
  private url: string | undefined;
  private generation = 0;

  private api(): ElkApi {
    if (!this.elk) {
      this.url = URL.createObjectURL(new Blob([elkWorkerSource], { type: 'text/javascript' }));
      const url = this.url;
      // only the layered algorithm is registered: the worker starts faster
      this.elk = new ELK({ algorithms: ['layered'], workerFactory: () => new Worker(url, { name: 'ld-surgeon-layout' }) });
    }
    return this.elk;
  }

  /** Starts the worker and warms ELK's code before the first real layout needs it. */
  warmUp(): Promise<unknown> {
    return this.api().layout(warmUpGraph()).catch(() => undefined);
  }

  /**
   * Lays out `graph`. Resolves undefined when a newer layout was requested meanwhile: only the
   * latest expansion state is ever drawn.
   */
  async layout(graph: ElkNode): Promise<ElkNode | undefined> {
    const gen = ++this.generation;
    const result = await this.api().layout(graph);
    return gen === this.generation ? result : undefined;
  }

  dispose(): void {
    this.elk?.terminateWorker();
    if (this.url) URL.revokeObjectURL(this.url);
    this.elk = undefined;
  }
}
