// What the surgery layer knows about a candidate: where it is in the graph (by names and node
// indices of the model it was found in, so it can be applied to a copy), what it costs, and how it
// is modified. Everything here is plain data: it can go into a score file or a worker message.
/** What the scorer did (or could not do) to a candidate. */
export type ModificationKind =
  /** the module is bypassed: its output is its input */
  | 'remove'
  /** the module is swapped for something cheaper (e.g. a channel projection where shapes differ) */
  | 'replace'
  /** no valid modification exists (shared module, shape constraint...): never pruned */
  | 'none';

export type Granularity = 'block' | 'layer' | 'both';
export type CandidateLevel = 'block' | 'layer';

export type CandidateKind =
  | 'resnet' | 'attention-block' | 'transformer-block' | 'downsampler' | 'upsampler'
  | 'conv' | 'attention' | 'feed-forward' | 'norm' | 'projection' | 'time-embedding-projection'
  /** a module of a model without diffusers names */
  | 'module'
  /** one operator of a model without module scopes (score files written before structural modules) */
  | 'node';

/** One step that turns the source value into a replacement of the target's shape. */
export type ReplacementStep =
  /** keep the first `size` entries of `axis` */
  | { op: 'slice'; axis: number; size: number }
  /** append zeros on `axis` up to `size` */
  | { op: 'pad'; axis: number; size: number }
  /** average over r×r windows of the spatial axes (ceil mode for sizes that do not divide) */
  | { op: 'avgpool'; factor: number }
  /** nearest-neighbour up-sampling of the spatial axes by an integer factor */
  | { op: 'upsample'; factor: number };

export type ModificationMethod =
  /** the region's output is replaced by its main input */
  | 'identity'
  /** a residual branch: the Add it feeds is replaced by its other operand */
  | 'skip-residual'
  /** a ResNet block becomes its own 1×1 conv_shortcut projection */
  | 'shortcut'
  /** the main input, sliced / padded / pooled / up-sampled to the output's shape */
  | 'resample';

export interface ModificationPlan {
  /** 'remove' for identity and skip-residual; 'replace' otherwise */
  action: Exclude<ModificationKind, 'none'>;
  method: ModificationMethod;
  /** the value whose readers are switched to the replacement */
  target: string;
  /** the value the replacement is (or is computed from) */
  source: string;
  steps: ReplacementStep[];
  /**
   * further exits of a block with several residual streams (FLUX/SD3 double blocks, see streams.ts),
   * each replaced by its own stream's input; `target`/`source` is the first stream
   */
  streams?: { target: string; source: string }[];
  /** for skip-residual: the Add node (name) that is bypassed */
  bypassedNode?: string;
  /** one line saying what happens and why this replacement was chosen */
  description: string;
}

export interface Candidate {
  /** module path, e.g. 'down_blocks.1.attentions.0' (the node's name for unscoped models) */
  id: string;
  level: CandidateLevel;
  kind: CandidateKind;
  /** indices into graph.nodes of the model the candidate was found in */
  nodeIndices: number[];
  /** compute nodes (noise excluded) in the region */
  ops: number;
  exit?: string;
  entry?: string;
  exitShape?: (number | string | null)[];
  /** ONNX element type of the exit value, when known */
  exitElemType?: number;
  entryShape?: (number | string | null)[];
  /** parameters used only inside the region */
  params: number;
  macs: number;
  flops: number;
  /** FLOPs the replacement itself costs (the kept shortcut convolution, a pooling...) */
  replacementFlops: number;
  /** nodes without a FLOP rule or known shapes, left out of `flops` */
  uncountedOps: number;
  /** null when the region cannot be modified; `reason` says why */
  modification: ModificationPlan | null;
  reason?: string;
  /** other module ids with exactly the same region (a Downsample2D and its only conv) */
  aliases?: string[];
  /** share (0..1) of the model's measured latency spent in the region, once profiled */
  latencyShare?: number;
}
