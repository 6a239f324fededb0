// Webview entry: connects the app to the VS Code host (or the dev harness's stand-in).
import { parseToWebview, type FromWebview } from '../../src/protocol/webview';
import { App } from './app';
import '../style.css';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
root.classList.add('app');

const report = (message: string, stack?: string) => vscode.postMessage({ type: 'reportError', message, stack });
window.addEventListener('error', (e) => report(e.message, e.error instanceof Error ? e.error.stack : undefined));
window.addEventListener('unhandledrejection', (e) => report(String(e.reason instanceof Error ? e.reason.message : e.reason), e.reason instanceof Error ? e.reason.stack : undefined));

const app = new App(root, { post: (m) => vscode.postMessage(m), getState: () => vscode.getState(), setState: (s) => vscode.setState(s) });

window.addEventListener('message', (e: MessageEvent) => {
  let msg;
  try {
    msg = parseToWebview(e.data);
  } catch (err) {
    report(err instanceof Error ? err.message : String(err));
    return;
  }
  app.handle(msg);
});
window.addEventListener('pagehide', () => app.dispose());
app.ready();
