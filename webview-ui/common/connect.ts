// What each of the extension's webviews does first: reach its host (VS Code's acquireVsCodeApi, or a dev harness's
// stand-in), send its own uncaught errors to the host's output channel (a webview's console is out of sight), and
// hand the app only messages that pass the protocol's check; a malformed one is reported instead.

/** the error report every webview protocol carries (FromWebview, FromChart) */
interface ReportError {
  type: 'reportError';
  message: string;
  stack?: string;
}

export interface WebviewHost<Out> {
  postMessage(msg: Out): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): WebviewHost<unknown>;

export interface Connection<Out> {
  host: WebviewHost<Out>;
  /** the page's #app element (created when the page has none) */
  root: HTMLElement;
}

/** `deliver` is first called from a later task than this call, so it may use an app created after it returns. */
export function connectWebview<In, Out>(parse: (raw: unknown) => In, deliver: (msg: In) => void): Connection<Out> {
  const host = acquireVsCodeApi() as WebviewHost<Out | ReportError>;
  const report = (message: string, stack?: string) => host.postMessage({ type: 'reportError', message, stack });
  window.addEventListener('error', (e) => report(e.message, e.error instanceof Error ? e.error.stack : undefined));
  window.addEventListener('unhandledrejection', (e) =>
    report(String(e.reason instanceof Error ? e.reason.message : e.reason), e.reason instanceof Error ? e.reason.stack : undefined));
  const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
  window.addEventListener('message', (e: MessageEvent) => {
    let msg: In;
    try {
      msg = parse(e.data);
    } catch (err) {
      report(err instanceof Error ? err.message : String(err));
      return;
    }
    deliver(msg);
  });
  return { host, root };
}
