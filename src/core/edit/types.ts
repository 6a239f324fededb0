// Edits of a model in IR terms (onnx-graphsurgeon's vocabulary: nodes, values, attributes, graph
// outputs), as plain data: an edit can come from the webview, go through a worker message and be
// recorded in an edit stack. Modules are named by their module path (a candidate id), nodes by
// GraphView.nodeId (the node name when unique), values by name.
import { UserError } from '../errors';

/** Text the user typed for an attribute, read as the attribute's own type (e.g. '3' or '[1, 2]'). */
export type AttributeInput =
  | { type: 'int'; value: number }
  | { type: 'ints'; value: number[] }
  | { type: 'float'; value: number }
  | { type: 'floats'; value: number[] }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: string[] }
  /** parsed against the type of the attribute the node already has */
  | { type: 'text'; value: string };

export type ReplaceMethod = 'identity' | 'shortcut';

export type ModelEdit =
  /** the module's planned modification (identity, skip-residual, shortcut or resample), as scoring uses it */
  | { kind: 'bypass'; module: string }
  /** the module becomes a cheaper one the IR knows: its input (identity) or its own 1×1 conv_shortcut */
  | { kind: 'replace'; module: string; with: ReplaceMethod }
  /** a node nothing reads from (no consumer, no graph output) */
  | { kind: 'remove-node'; node: string }
  | { kind: 'rename-node'; node: string; to: string }
  | { kind: 'rename-value'; value: string; to: string }
  /** sets (or adds) one attribute of a node */
  | { kind: 'set-attribute'; node: string; name: string; input: AttributeInput }
  /** an intermediate value becomes a graph output */
  | { kind: 'set-output'; value: string }
  /** a graph output stops being one; the nodes only it needed are removed */
  | { kind: 'clear-output'; value: string }
  /** suggested prunes (scored candidates) applied together, as the prune command would */
  | { kind: 'accept-prunes'; modules: string[] }
  /** suggestions the user turned down: the model is unchanged, the suggestions are hidden */
  | { kind: 'reject-prunes'; modules: string[] };

export type EditKind = ModelEdit['kind'];

/** An edit that would make an invalid model, or names something that is not there; `message` says which and why. */
export class EditRefused extends UserError {
  constructor(message: string, file?: string, readonly subject?: string) {
    super(message, file);
    this.name = 'EditRefused';
  }
}

export interface ModelFigures {
  nodes: number;
  params: number;
  flops: number;
}

/** What an edit (or an undo/redo) changed, for the graph, the tree view and the totals. */
export interface ChangeSummary {
  /** one line for the undo stack and the status bar */
  label: string;
  /** node ids of the current model that the edit added or changed */
  addedNodes: string[];
  /** node ids (of the model before the edit) that are gone */
  removedNodes: string[];
  /** module paths whose nodes changed (the innermost; their ancestors changed too) */
  modules: string[];
  /** totals of the model now, of the model before and of the original */
  now: ModelFigures;
  before: ModelFigures;
  original: ModelFigures;
  /**
   * Estimated speed-up over the original: measured latency shares of removed modules when a
   * profile is present, otherwise the FLOPs ratio.
   */
  speedup: { estimate: number; basis: 'latency' | 'flops' };
  /** suggestions turned down (reject-prunes), after the change */
  rejected: string[];
  /** position in the edit stack after the change */
  version: number;
}

/** A document's whole edit stack, as a restarted worker or a hot-exit backup carries it. */
export interface EditHistory {
  edits: ModelEdit[];
  /** edits[0, at) are applied; the rest are what Redo brings back */
  at: number;
  /** the saved position (0: the original file), -1 when the saved state was undone and overwritten */
  savedAt: number;
}
