// The editable model document: an edit stack of model snapshots. Each snapshot is a structural copy
// of the one before (nodes, value infos, attribute lists), and every snapshot shares the tensor
// payloads of the original file, so undo and redo are exact (they switch snapshots) and cost no
// weight memory. The analysis of a snapshot (shapes, FLOPs, module totals), its candidates and its
// graph index JSON are kept once computed, so undo/redo re-analyse nothing; the folded values of
// small constant tensors are read once for the whole document.
import { analyzeWithValues, buildGraphIndex, readFoldValues, walkModules, type GraphIndex, type ModelAnalysis, type ModuleNode } from '../graph';
import { foldCandidates as foldable } from '../graph/analyze';
import { diffGraphIndex, invertGraphIndexPatch, type GraphIndexPatch } from '../graph/index-patch';
import { updateGraphIndex } from '../graph/index-update';
import { perSampleInputShapes } from '../graph/input-shapes';
import { readModel } from '../onnx/reader';
import { fixValueInfo } from '../prune/build';
import type { Model, Node, TensorData } from '../onnx/types';
import { findCandidates, type Candidate } from '../surgery';
import { findCandidate } from '../surgery/candidates';
import { checkEdited } from './checks';
import { applyEdit, type EditOutcome } from './operations';
import { saveEdited, type SaveOptions, type SaveResult } from './save';
import { type ChangeSummary, type EditHistory, type ModelEdit, type ModelFigures } from './types';

/** Up to this many named modules, an edit builds their candidates alone instead of listing them all. */
const FEW_CANDIDATES = 16;
/** A rehearsal looks for a block it can bypass among this many modules (each try is one step). */
const REHEARSAL_TRIES = 12;

export interface EditableOptions {
  /**
   * concrete shapes for graph inputs (candidates and FLOPs depend on shapes), e.g. { sample: [1, 4, 64, 64] };
   * default: per sample (batch 1, a U-Net's latent size from the config.json beside it)
   */
  inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** measured share (0..1) of the original model's latency per module path, from a latency profile */
  latencyShare?: ReadonlyMap<string, number>;
}

interface Snapshot {
  model: Model;
  /** the edit that made this snapshot from the one before (none for the original) */
  edit?: ModelEdit;
  label: string;
  touched: string[];
  rejected: readonly string[];
  // Kept for every snapshot once computed (structure only; the tensors are shared), so undo and
  // redo restore them instead of re-analysing and re-indexing an SD-scale graph.
  analysis?: ModelAnalysis;
  candidates?: Candidate[];
  /** the graph index, and as JSON as the model worker sends it */
  index?: GraphIndex;
  indexJson?: string;
}

export class EditableModel {
  private readonly stack: Snapshot[];
  private at = 0;
  private savedAt = 0;
  private readonly folded = new Map<TensorData, number[]>();
  private readonly originalFigures: ModelFigures;
  /** index patches by 'from>to' snapshot positions, dropped when an edit replaces undone snapshots */
  private readonly patches = new Map<string, GraphIndexPatch>();
  /** node changes by 'from>to' snapshot positions (the way back swaps them), dropped with the patches */
  private readonly changes = new Map<string, NodeChanges>();
  /** Where the last apply's time went, in ms: the edit itself (candidates it needed included), re-analysis, checks, the change summary. */
  lastApplyMs: { edit: number; analysis: number; check: number; summary: number } | undefined;

  private constructor(readonly path: string, original: Model, analysis: ModelAnalysis, folded: Map<TensorData, number[]>, private readonly options: EditableOptions) {
    this.stack = [{ model: original, label: 'Open', touched: [], rejected: [], analysis }];
    this.folded = folded;
    this.originalFigures = figures(analysis);
  }

  /** Reads and analyses the model; `replay` re-applies edits (a hot-exit backup) in order. */
  static async open(path: string, options: EditableOptions = {}, replay: readonly ModelEdit[] = []): Promise<EditableModel> {
    const model = await readModel(path);
    const opts = { ...options, inputShapes: options.inputShapes ?? perSampleInputShapes(model) };
    const folded = await readFoldValues(foldable(model));
    const analysis = analyzeWithValues(model, folded, opts.inputShapes);
    const doc = new EditableModel(path, model, analysis, folded, opts);
    for (const e of replay) await doc.apply(e);
    return doc;
  }

  /**
   * A document re-opened with its whole history (its model worker thread was stopped or died): the edits up to
   * the saved position are replayed and marked saved, the rest applied, then undone back to where it stood —
   * Redo, Revert and the dirty state as they were. A saved state that was undone and overwritten (-1) is made
   * the way the user made it: the first edit saved, undone and applied again.
   */
  static async restore(path: string, options: EditableOptions, h: EditHistory): Promise<EditableModel> {
    if (!(Number.isInteger(h.at) && h.at >= 0 && h.at <= h.edits.length && Number.isInteger(h.savedAt) && h.savedAt >= -1 && h.savedAt <= h.edits.length && (h.savedAt >= 0 || h.edits.length > 0))) {
      throw new Error(`${path}: cannot restore the edit history (at ${h.at}, saved ${h.savedAt}, ${h.edits.length} edits)`);
    }
    const saved = h.savedAt >= 0 ? h.savedAt : 1;
    const d = await EditableModel.open(path, options, h.edits.slice(0, saved));
    d.markSaved();
    if (h.savedAt < 0) {
      d.undo();
      await d.apply(h.edits[0]);
    }
    for (const e of h.edits.slice(saved)) await d.apply(e);
    while (d.version > h.at) d.undo();
    return d;
  }

  get model(): Model {
    return this.stack[this.at].model;
  }

  /** Edits from the original to the current snapshot: replaying them on the original file gives this model. */
  get edits(): ModelEdit[] {
    return this.stack.slice(1, this.at + 1).map((s) => s.edit!);
  }

  get version(): number {
    return this.at;
  }

  get dirty(): boolean {
    return this.at !== this.savedAt;
  }

  get canUndo(): boolean {
    return this.at > 0;
  }

  get canRedo(): boolean {
    return this.at < this.stack.length - 1;
  }

  /** Suggested prunes the user turned down. */
  get rejected(): readonly string[] {
    return this.stack[this.at].rejected;
  }

  analysis(): ModelAnalysis {
    return this.analysed(this.stack[this.at]);
  }

  /** The current model's candidates (planModification refuses element-type changes). */
  candidates(): Candidate[] {
    const s = this.stack[this.at];
    s.candidates ??= findCandidates(this.analysed(s), { granularity: 'both' });
    return s.candidates;
  }

  /** The current graph index, built once per snapshot (treat it as read-only). */
  graphIndex(): GraphIndex {
    return this.indexOf(this.stack[this.at]);
  }

  /** The current graph index as JSON, built once per snapshot. */
  graphIndexJson(): string {
    const s = this.stack[this.at];
    s.indexJson ??= JSON.stringify(this.indexOf(s));
    return s.indexJson;
  }

  /**
   * What changed in the graph index from snapshot `version` (the one the views show) to the current
   * one: the views apply it instead of being sent the whole index again.
   */
  graphIndexPatch(version: number): GraphIndexPatch {
    return this.patchBetween(version, this.at);
  }

  /** Diffs the patch an undo will send now, so the undo itself does not (the model worker calls it when idle). */
  prepareUndoPatch(): void {
    if (this.canUndo) this.patchBetween(this.at, this.at - 1);
  }

  private patchBetween(from: number, to: number): GraphIndexPatch {
    const a = this.stack[from];
    if (!a) throw new Error(`no snapshot ${from} (the edit stack has ${this.stack.length})`);
    // undo and redo go back and forth between the same snapshots: each patch is diffed once
    const key = `${from}>${to}`;
    let p = this.patches.get(key);
    if (!p) {
      // the earlier one first: the later one's index is then built from it, with the patch between them
      this.indexOf(this.stack[Math.min(from, to)]);
      const from0 = this.indexOf(a);
      const to0 = this.indexOf(this.stack[to]);
      p = this.patches.get(key);
      // snapshots further apart (a revert, a view that missed a change) are compared whole
      if (!p) this.remember(from, to, from0, (p = diffGraphIndex(from0, to0)));
    }
    return p;
  }

  /** The patch from snapshot `from` to `to`, and the way back, which comes from it without a diff. */
  private remember(from: number, to: number, fromIndex: GraphIndex, p: GraphIndexPatch): void {
    this.patches.set(`${from}>${to}`, p);
    // an undo right after an edit sends it at once
    if (!this.patches.has(`${to}>${from}`)) this.patches.set(`${to}>${from}`, invertGraphIndexPatch(fromIndex, p));
  }

  /**
   * A snapshot's index, built once: from the index of the snapshot before it where that one is built
   * (only what the edit changed is built again, and the patch between them comes with it), else whole.
   */
  private indexOf(s: Snapshot): GraphIndex {
    if (s.index) return s.index;
    const k = this.stack.indexOf(s);
    const prev = k > 0 ? this.stack[k - 1] : undefined;
    if (prev?.index && prev.analysis) {
      const { index, patch } = updateGraphIndex({ analysis: prev.analysis, index: prev.index }, this.analysed(s));
      s.index = index;
      this.remember(k - 1, k, prev.index, patch);
    } else s.index = buildGraphIndex(this.analysed(s));
    return s.index;
  }

  /**
   * The candidates an edit of snapshot `s` looks up: the listing when there is one, else only those the
   * edit names (a bypass right after open builds its block's candidate, not all ~300 of SD-1.5's).
   */
  private candidatesFor(s: Snapshot, edit: ModelEdit): readonly Candidate[] {
    const ids = edit.kind === 'bypass' || edit.kind === 'replace' ? [edit.module]
      : edit.kind === 'accept-prunes' || edit.kind === 'reject-prunes' ? edit.modules : undefined;
    if (s.candidates || !ids || ids.length > FEW_CANDIDATES) return (s.candidates ??= findCandidates(this.analysed(s), { granularity: 'both' }));
    // one object per region, as in the listing (two aliases of one block are one prune)
    const byRegion = new Map<string, Candidate>();
    for (const id of ids) {
      const c = findCandidate(this.analysed(s), id, { granularity: 'both' });
      if (!c) continue;
      const key = c.nodeIndices.join(',');
      const seen = byRegion.get(key);
      if (!seen) byRegion.set(key, c);
      else if (c.aliases) seen.aliases = [...(seen.aliases ?? []), ...c.aliases];
    }
    return [...byRegion.values()];
  }

  /** Whether the current snapshot's candidates are listed already (only a caller asking for the whole listing lists them). */
  get candidatesListed(): boolean {
    return this.stack[this.at].candidates !== undefined;
  }

  /**
   * Applies the edit when the edited model passes the checks (shapes, element types); otherwise
   * throws EditRefused and nothing changes. Edits after the current position (undone ones) are dropped.
   */
  async apply(edit: ModelEdit): Promise<ChangeSummary> {
    const t0 = performance.now();
    const cur = this.stack[this.at];
    const before = this.analysed(cur);
    const out = applyEdit({ model: cur.model, analysis: before, candidates: () => this.candidatesFor(cur, edit) }, edit);
    const rejected = edit.kind === 'reject-prunes' ? [...new Set([...cur.rejected, ...edit.modules])]
      : edit.kind === 'accept-prunes' ? cur.rejected.filter((id) => !edit.modules.includes(id)) : cur.rejected;
    const next: Snapshot = { model: out.model, edit, label: out.label, touched: out.touched, rejected };
    const t1 = performance.now();
    let t2 = t1;
    if (out.model !== cur.model) {
      await this.foldNew(out.model);
      // only the nodes downstream of the edit whose input shapes changed are re-inferred
      next.analysis = analyzeWithValues(out.model, this.folded, this.shapesFor(out.model), undefined, before, out.view);
      t2 = performance.now();
      checkEdited(before, next.analysis, out.label);
      // declared value_info shapes the edit contradicts (a changed stride) are corrected
      fixValueInfo(out.model.graph.valueInfo, next.analysis);
    } else next.analysis = before;
    if (this.stack.length > this.at + 1) {
      // positions after `at` now hold other snapshots
      this.patches.clear();
      this.changes.clear();
    }
    this.stack.splice(this.at + 1, this.stack.length, next);
    if (this.savedAt > this.at) this.savedAt = -1; // the saved state was an undone one: it cannot be reached again
    this.at++;
    const t3 = performance.now();
    const summary = this.summary(this.at - 1, this.at, next.label);
    this.lastApplyMs = { edit: t1 - t0, analysis: t2 - t1, check: t3 - t2, summary: performance.now() - t3 };
    return summary;
  }

  /**
   * Throwaway edits of the current snapshot, through the same functions as apply and the index patch
   * (candidate, edit, incremental analysis, checks, index update, change summary), results discarded.
   * The stack, the saved position, the kept patches and every snapshot's analysis and index are left as
   * they were. Why: in a fresh worker thread an edit's code runs cold (interpreted, no type feedback): the
   * first edits took 2-3x the time of the same edits a few edits later. Each round edits the result of
   * the round before, as a user's second edit edits the first one's copy: objects copied from copies have
   * other hidden classes than those read from the file, and code warmed on the original alone was
   * deoptimized ('wrong map') by the user's second edit. Rounds alternate a bypass and a node rename (an
   * edit in place). Each `yield` ends a step of a few tens of ms (SD-1.5), so a request arriving meanwhile
   * waits at most one step: the caller drops the generator when one arrives. Yields 'round' after each edit.
   */
  *rehearse(rounds = 1): Generator<'step' | 'round', void> {
    const s = this.stack[this.at];
    let base = { model: s.model, analysis: this.analysed(s), index: this.indexOf(s) };
    yield 'step';
    // modules to try for a bypass, in order; those tried are not tried again
    const modules = rehearsalModules(base.analysis, REHEARSAL_TRIES);
    for (let r = 0; r < rounds; r++) {
      const before = base.analysis;
      let edit: ModelEdit | undefined;
      let found: Candidate[] = [];
      if (r % 2 === 0) {
        while (modules.length && !edit) {
          const c = findCandidate(before, modules.shift()!, { granularity: 'both' });
          yield 'step';
          if (c?.modification) {
            edit = { kind: 'bypass', module: c.id };
            found = [c];
          }
        }
      }
      if (!edit) {
        // a rename of a node halfway down the graph
        const n = before.view.nodes[before.view.nodes.length >> 1];
        if (!n) return;
        const id = before.view.nodeId(n);
        edit = { kind: 'rename-node', node: id, to: `${id} (rehearsal ${r})` };
      }
      let out: EditOutcome;
      try {
        out = applyEdit({ model: base.model, analysis: before, candidates: () => found }, edit);
      } catch {
        return; // refused (a name taken): nothing is rehearsed rather than something else
      }
      yield 'step';
      // tensors the edit made are not folded here (that reads files): the throwaway analysis leaves their values unknown
      const after = analyzeWithValues(out.model, this.folded, this.shapesFor(out.model), undefined, before, out.view);
      yield 'step';
      try {
        checkEdited(before, after, out.label);
      } catch {
        return;
      }
      fixValueInfo(out.model.graph.valueInfo, after);
      yield 'step';
      const { index, patch } = updateGraphIndex({ analysis: before, index: base.index }, after);
      invertGraphIndexPatch(base.index, patch);
      yield 'step';
      const { added, removed } = diffNodes(before, after);
      changedModules(before, after, added, removed);
      figures(after);
      this.speedup(after);
      base = { model: out.model, analysis: after, index };
      yield 'round';
    }
  }

  /** Back one edit; undefined when at the original. */
  undo(): ChangeSummary | undefined {
    if (!this.canUndo) return undefined;
    const from = this.stack[this.at];
    this.at--;
    return this.summary(this.at + 1, this.at, `Undo ${from.label}`);
  }

  redo(): ChangeSummary | undefined {
    if (!this.canRedo) return undefined;
    this.at++;
    return this.summary(this.at - 1, this.at, `Redo ${this.stack[this.at].label}`);
  }

  /** Back to the last saved snapshot (the original when never saved). */
  revert(): ChangeSummary | undefined {
    const target = this.savedAt >= 0 ? this.savedAt : 0;
    if (target === this.at) return undefined;
    const from = this.at;
    this.at = target;
    return this.summary(from, this.at, 'Revert');
  }

  /**
   * Writes the current model: beside the original as `<name>.edited.onnx` unless `to` says where.
   * Saving over the original keeps the old file as a backup (see saveEdited).
   */
  async save(to?: string, options: SaveOptions = {}): Promise<SaveResult> {
    const r = await saveEdited(this.model, this.path, to, this.stack.map((s) => s.model), options);
    this.savedAt = this.at;
    return r;
  }

  /** Marks the current snapshot as the saved one (after a save the caller did itself). */
  markSaved(): void {
    this.savedAt = this.at;
  }

  private shapesFor(m: Model): Record<string, readonly number[]> | undefined {
    const given = this.options.inputShapes;
    if (!given) return undefined;
    const names = new Set(m.graph.inputs.map((v) => v.name));
    return Object.fromEntries(Object.entries(given).filter(([k]) => names.has(k)));
  }

  private analysed(s: Snapshot): ModelAnalysis {
    // every tensor of a snapshot was folded when it was made, so this needs no file read
    s.analysis ??= analyzeWithValues(s.model, this.folded, this.shapesFor(s.model));
    return s.analysis;
  }

  private async foldNew(m: Model): Promise<void> {
    const fresh = foldable(m).filter((t) => !this.folded.has(t));
    if (!fresh.length) return;
    for (const [t, v] of await readFoldValues(fresh)) this.folded.set(t, v);
  }

  private summary(fromAt: number, toAt: number, label: string): ChangeSummary {
    const a = this.analysed(this.stack[fromAt]);
    const b = this.analysed(this.stack[toAt]);
    const { added, removed } = this.nodeChanges(fromAt, toAt);
    return {
      label,
      addedNodes: [...added],
      removedNodes: [...removed],
      modules: changedModules(a, b, added, removed),
      now: figures(b),
      before: figures(a),
      original: this.originalFigures,
      speedup: this.speedup(b),
      rejected: [...this.stack[toAt].rejected],
      version: this.at,
    };
  }

  /** The node changes between two snapshots, found once per pair: undo and redo swap an edit's. */
  private nodeChanges(fromAt: number, toAt: number): NodeChanges {
    const key = `${fromAt}>${toAt}`;
    let c = this.changes.get(key);
    if (!c) {
      const back = this.changes.get(`${toAt}>${fromAt}`);
      c = back ? { added: back.removed, removed: back.added } : diffNodes(this.analysed(this.stack[fromAt]), this.analysed(this.stack[toAt]));
      this.changes.set(key, c);
    }
    return c;
  }

  /**
   * Over the original: with a latency profile, each outermost profiled module saves its share times
   * the fraction of its FLOPs that is gone; otherwise the ratio of total FLOPs.
   */
  private speedup(now: ModelAnalysis): ChangeSummary['speedup'] {
    const orig = this.analysed(this.stack[0]);
    const shares = this.options.latencyShare;
    if (shares?.size) {
      const ids = [...shares.keys()].filter((id) => ![...shares.keys()].some((o) => o !== id && id.startsWith(`${o}.`)));
      let saved = 0;
      for (const id of ids) {
        const was = orig.tree.byId.get(id);
        const wasFlops = was ? orig.total.get(was)!.flops : 0;
        if (!wasFlops) continue;
        const m = now.tree.byId.get(id);
        const kept = m ? Math.min(1, now.total.get(m)!.flops / wasFlops) : 0;
        saved += shares.get(id)! * (1 - kept);
      }
      return { estimate: 1 / Math.max(1e-9, 1 - Math.min(saved, 0.999999)), basis: 'latency' };
    }
    const o = figures(orig).flops;
    const n = figures(now).flops;
    return { estimate: n > 0 ? o / n : 1, basis: 'flops' };
  }
}

function figures(a: ModelAnalysis): ModelFigures {
  const t = a.total.get(a.tree.root)!;
  return { nodes: a.view.nodes.length, params: t.params, flops: t.flops };
}

interface NodeChanges {
  /** node ids of the later snapshot that are new or changed */
  added: readonly string[];
  /** node ids of the earlier snapshot that are gone or changed */
  removed: readonly string[];
}

/**
 * Nodes matched by id through each view's own id maps (built once per snapshot, which the graph index
 * needs anyway), so the diff costs a lookup per node rather than two new maps of every node.
 */
function diffNodes(a: ModelAnalysis, b: ModelAnalysis): NodeChanges {
  const added: string[] = [];
  const removed: string[] = [];
  for (const n of b.view.nodes) {
    const id = b.view.nodeId(n);
    const old = a.view.nodeById(id);
    if (!old || !sameNode(old, n)) added.push(id);
  }
  for (const n of a.view.nodes) {
    const id = a.view.nodeId(n);
    const now = b.view.nodeById(id);
    if (!now || !sameNode(n, now)) removed.push(id);
  }
  return { added, removed };
}

/** Modules a rehearsal may bypass, most likely first: those with children (blocks), in pre-order, below the root. */
function rehearsalModules(a: ModelAnalysis, limit: number): string[] {
  const ids: string[] = [];
  walkModules(a.tree.root, (m: ModuleNode) => {
    if (m !== a.tree.root && m.children.length && ids.length < limit) ids.push(m.id);
  });
  return ids;
}

/** The innermost modules of the nodes added or changed (where they are now) and of those gone (where they were), sorted. */
function changedModules(a: ModelAnalysis, b: ModelAnalysis, added: readonly string[], removed: readonly string[]): string[] {
  const modules = new Set<string>();
  for (const id of added) modules.add(b.tree.moduleOf.get(b.view.nodeById(id)!)?.id ?? '');
  for (const id of removed) if (!b.view.nodeById(id)) modules.add(a.tree.moduleOf.get(a.view.nodeById(id)!)?.id ?? '');
  modules.delete('');
  return [...modules].sort();
}

/** Same op, wiring and attributes (attribute objects are shared between snapshots until an edit replaces one). */
function sameNode(p: Node, q: Node): boolean {
  if (p === q) return true;
  if (p.opType !== q.opType || p.inputs.length !== q.inputs.length || p.outputs.length !== q.outputs.length || p.attributes.length !== q.attributes.length) return false;
  return p.inputs.every((x, i) => x === q.inputs[i]) && p.outputs.every((x, i) => x === q.outputs[i])
    && p.attributes.every((x, i) => x === q.attributes[i] || (x.g !== undefined && x.name === q.attributes[i].name));
}

