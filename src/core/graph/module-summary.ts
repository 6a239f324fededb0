// The Model view's module tree rebuilt from the flat module list the model worker posts
// (IndexModule[], depth-first, parents by index): the host links parents and children once instead of
// reading and analysing the model on its own event loop.
import type { IndexModule } from './graph-index';

export interface SummaryModule {
  /** dot-joined path; '' for the root */
  id: string;
  name: string;
  className?: string;
  depth: number;
  parent: SummaryModule | null;
  children: SummaryModule[];
  /** totals over the subtree: ops, params, FLOPs, op types */
  stats: IndexModule;
}

export interface ModuleSummary {
  root: SummaryModule;
  byId: Map<string, SummaryModule>;
}

export function moduleSummary(modules: readonly IndexModule[]): ModuleSummary {
  if (!modules.length || modules[0].parent !== -1) throw new Error('module summary: the list must start with the root module');
  const rows: SummaryModule[] = [];
  const byId = new Map<string, SummaryModule>();
  for (const m of modules) {
    const parent = m.parent < 0 ? null : rows[m.parent];
    if (parent === undefined) throw new Error(`module summary: module '${m.id}' comes before its parent`);
    const row: SummaryModule = { id: m.id, name: m.name, depth: m.depth, parent, children: [], stats: m, ...(m.className ? { className: m.className } : {}) };
    parent?.children.push(row);
    rows.push(row);
    byId.set(m.id, row);
  }
  return { root: rows[0], byId };
}
