// Top bar: model name, breadcrumbs of the expanded path, search (jump to a module or operator),
// scoring status and the view controls.
import { compactId, formatPercent } from '../model/format';
import type { ViewGraph } from '../model/graph';
import { searchGraph, type SearchEntry, type SearchHit } from '../model/search';
import { button, clear, h, icon } from './dom';

export interface ToolbarActions {
  crumb(moduleId: string): void;
  jump(hit: SearchEntry): void;
  fit(): void;
  zoom(factor: number): void;
  collapseAll(): void;
  score(): void;
  cancelScoring(): void;
  /** run the pruned-model checks on the edited model as it is now */
  checkModel(): void;
}

export class Toolbar {
  readonly el: HTMLElement;
  private crumbs: HTMLElement;
  private input: HTMLInputElement;
  private results: HTMLElement;
  private hits: SearchHit[] = [];
  private active = -1;
  private status: HTMLElement;
  private progress: HTMLElement;
  private progressFill: HTMLElement;

  constructor(
    host: HTMLElement,
    private graph: ViewGraph,
    /** the search index, built on the first search (an edit makes a new one) */
    private entries: () => readonly SearchEntry[],
    modelName: string,
    modelPath: string,
    private readonly actions: ToolbarActions,
  ) {
    this.crumbs = h('ol', { class: 'crumbs' });
    this.input = h('input', {
      type: 'search',
      class: 'search-input',
      placeholder: 'Search modules and operators',
      'aria-label': 'Search modules and operators',
      role: 'combobox',
      'aria-expanded': 'false',
      'aria-controls': 'search-results',
      'aria-autocomplete': 'list',
      spellcheck: 'false',
      autocomplete: 'off',
    }) as HTMLInputElement;
    this.results = h('ul', { class: 'search-results', id: 'search-results', role: 'listbox', 'aria-label': 'Search results' });
    this.status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.progressFill = h('div', { class: 'progress-fill' });
    this.progress = h('div', { class: 'progress', 'aria-hidden': 'true' }, this.progressFill);

    const title = h('div', { class: 'model-title', title: modelPath }, icon('symbol-structure', '◇'), h('span', { class: 'model-name' }, modelName));
    const search = h('div', { class: 'search' }, icon('search', '⌕'), this.input, this.results);
    const controls = h(
      'div',
      { class: 'view-controls', role: 'toolbar', 'aria-label': 'View' },
      button({ label: 'Zoom out', icon: ['zoom-out', '−'], iconOnly: true, kind: 'toolbar', onClick: () => actions.zoom(1 / 1.4) }),
      button({ label: 'Zoom in', icon: ['zoom-in', '+'], iconOnly: true, kind: 'toolbar', onClick: () => actions.zoom(1.4) }),
      button({ label: 'Fit to view (F)', icon: ['screen-full', '⤢'], iconOnly: true, kind: 'toolbar', onClick: () => actions.fit() }),
      button({ label: 'Collapse all', icon: ['collapse-all', '⊟'], iconOnly: true, kind: 'toolbar', onClick: () => actions.collapseAll() }),
      button({ label: 'Check model: run the edited model against the original', icon: ['beaker', '⚗'], iconOnly: true, kind: 'toolbar', onClick: () => actions.checkModel() }),
    );
    this.el = h(
      'header',
      { class: 'toolbar' },
      h('div', { class: 'toolbar-row' }, title, h('nav', { class: 'crumbs-nav', 'aria-label': 'Expanded path' }, this.crumbs), h('div', { class: 'spacer' }), this.status, search, controls),
      this.progress,
    );
    host.append(this.el);

    this.input.addEventListener('input', () => this.runSearch());
    this.input.addEventListener('keydown', (e) => this.onKey(e));
    this.input.addEventListener('blur', () => setTimeout(() => this.closeResults(), 150));
    this.input.addEventListener('focus', () => this.runSearch());
    this.setPath([]);
  }

  /** The model changed (an edit): crumbs and search read the edited one; open results are searched again. */
  setGraph(graph: ViewGraph, entries: () => readonly SearchEntry[]): void {
    this.graph = graph;
    this.entries = entries;
    if (this.results.classList.contains('open')) this.runSearch();
  }

  focusSearch(): void {
    this.input.focus();
    this.input.select();
  }

  setPath(chain: string[]): void {
    clear(this.crumbs);
    const add = (label: string, id: string, current: boolean) => {
      const b = h('button', { type: 'button', class: 'crumb', 'aria-current': current ? 'location' : undefined }, label);
      b.addEventListener('click', () => this.actions.crumb(id));
      this.crumbs.append(h('li', null, b));
    };
    add('model', '', chain.length === 0);
    chain.forEach((id, i) => add(this.graph.modules.get(id)?.name ?? id, id, i === chain.length - 1));
  }

  setScoring(state: string, done?: number, total?: number, message?: string): void {
    clear(this.status);
    this.el.classList.toggle('busy', state === 'running');
    const frac = total ? (done ?? 0) / total : undefined;
    this.progress.classList.toggle('indeterminate', state === 'running' && frac === undefined);
    this.progress.classList.toggle('visible', state === 'running');
    this.progressFill.style.width = frac !== undefined ? `${(frac * 100).toFixed(1)}%` : '';
    if (state === 'running') {
      this.status.append(
        h('span', { class: 'status-text' }, `Scoring ${total ? `${done ?? 0}/${total}` : '…'}${frac !== undefined ? ` · ${formatPercent(frac * 100)}` : ''}`),
        button({ label: 'Cancel scoring', icon: ['debug-stop', '■'], iconOnly: true, kind: 'toolbar', onClick: () => this.actions.cancelScoring() }),
      );
      if (message) this.status.title = message;
    } else if (state === 'failed') {
      this.status.append(h('span', { class: 'status-text error-text', title: message ?? '' }, 'Scoring failed'), button({ label: 'Retry', icon: ['refresh', '↻'], kind: 'toolbar', onClick: () => this.actions.score() }));
    } else if (state === 'done') {
      // message: which conditions the latents came from, when the pipeline takes any
      this.status.append(h('span', { class: 'status-text muted', title: message ?? '' }, `${total ?? done ?? ''} scored${message ? ` · ${message}` : ''}`));
    } else if (state === 'cancelled') {
      this.status.append(h('span', { class: 'status-text muted' }, 'Scoring cancelled'), button({ label: 'Resume', icon: ['play', '▶'], kind: 'toolbar', onClick: () => this.actions.score() }));
    } else {
      this.status.append(button({ label: 'Score operators', icon: ['play', '▶'], kind: 'toolbar', onClick: () => this.actions.score() }));
    }
  }

  private runSearch(): void {
    const q = this.input.value;
    this.hits = q.trim() ? searchGraph(this.entries(), q, 40) : [];
    this.active = this.hits.length ? 0 : -1;
    this.renderResults();
  }

  private renderResults(): void {
    clear(this.results);
    const open = this.hits.length > 0 || this.input.value.trim() !== '';
    this.input.setAttribute('aria-expanded', String(open));
    this.results.classList.toggle('open', open);
    if (!this.hits.length) {
      if (this.input.value.trim()) this.results.append(h('li', { class: 'no-results', role: 'option', 'aria-disabled': 'true' }, 'No module or operator matches'));
      this.input.removeAttribute('aria-activedescendant');
      return;
    }
    this.hits.forEach((hit, i) => {
      const e = hit.entry;
      const li = h(
        'li',
        { id: `sr-${i}`, role: 'option', class: `sr${i === this.active ? ' active' : ''}`, 'aria-selected': String(i === this.active) },
        h('span', { class: `sr-kind sr-${e.kind}` }, e.kind === 'module' ? 'module' : e.op ?? 'op'),
        h('span', { class: 'sr-id', title: e.id }, compactId(e.id, 54)),
      );
      li.addEventListener('mousedown', (ev) => {
        ev.preventDefault();
        this.choose(i);
      });
      this.results.append(li);
    });
    if (this.active >= 0) {
      this.input.setAttribute('aria-activedescendant', `sr-${this.active}`);
      this.results.querySelector('.active')?.scrollIntoView({ block: 'nearest' });
    }
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      if (!this.hits.length) return;
      e.preventDefault();
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : -1) + this.hits.length) % this.hits.length;
      this.renderResults();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (this.active >= 0) this.choose(this.active);
    } else if (e.key === 'Escape') {
      if (this.input.value) {
        e.stopPropagation();
        this.input.value = '';
      }
      this.closeResults();
    }
  }

  private choose(i: number): void {
    const hit = this.hits[i];
    if (!hit) return;
    this.closeResults();
    this.actions.jump(hit.entry);
  }

  private closeResults(): void {
    this.results.classList.remove('open');
    this.input.setAttribute('aria-expanded', 'false');
  }
}
