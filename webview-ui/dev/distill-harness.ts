// Dev harness (not shipped): stands in for the extension host of the distillation chart. Records what
// the webview posts (window.__chartPosted, the last `rendered` snapshot in window.__chartSnapshot) and
// answers `ready` with init; the driver then feeds events with window.__chartFeed(messages).
// ?theme=dark|light|hc  title=...  file=<events file path shown in the chart>
import type { ChartSnapshot, FromChart, ToChart } from '../../src/protocol/distillChart';

const params = new URLSearchParams(location.search);
const theme = params.get('theme') ?? 'dark';
document.body.classList.add(theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark');

interface HarnessWindow {
  __chartPosted: FromChart[];
  __chartSnapshot?: ChartSnapshot;
  __chartReady: boolean;
  __chartFeed(messages: ToChart[]): void;
  acquireVsCodeApi(): { postMessage(m: FromChart): void };
}
const w = window as unknown as HarnessWindow;
w.__chartPosted = [];
w.__chartReady = false;
w.__chartFeed = (messages) => {
  for (const m of messages) window.postMessage(m, '*');
};
w.acquireVsCodeApi = () => ({
  postMessage(m: FromChart) {
    w.__chartPosted.push(m);
    if (m.type === 'rendered') w.__chartSnapshot = m.snapshot;
    if (m.type === 'ready') {
      w.__chartReady = true;
      window.postMessage({ type: 'init', title: params.get('title') ?? 'Distill: unet.pruned.onnx', eventsFile: params.get('file') ?? '/runs/distill/trainer/events.jsonl' } satisfies ToChart, '*');
    }
  },
});
