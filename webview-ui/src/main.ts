// Webview entry: connects the app to the VS Code host (or the dev harness's stand-in).
import { parseToWebview, type FromWebview, type ToWebview } from '../../src/protocol/webview';
import { connectWebview } from '../common/connect';
import { App } from './app';
import '../style.css';

const { host, root } = connectWebview<ToWebview, FromWebview>(parseToWebview, (msg) => app.handle(msg));
root.classList.add('app');
const app = new App(root, { post: (m) => host.postMessage(m), getState: () => host.getState(), setState: (s) => host.setState(s) });
window.addEventListener('pagehide', () => app.dispose());
app.ready();
