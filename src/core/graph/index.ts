// The graph layer: a view over an ONNX Graph (producers, consumers, toposort, cleanup), shapes,
// exporter noise, the module hierarchy, parameters, FLOPs, the inspect report and the webview's
// graph index. Import from here.
export { GraphView, subgraphsOf, freeNames, type CleanupOptions, type CleanupResult, type ValueKind } from './graph-view';
export { inferShapes, formatShape, knownSize, broadcastShapes, type DimValue, type ValueFacts, type ShapeMap, type ShapeOptions } from './shapes';
export { classifyNoise, type NoiseKind } from './noise';
export { buildModuleTree, scopeFromMetadata, scopeFromName, lowestCommon, walkModules, subtreeNodes, moduleBoundary, type ModuleBoundary, type ModuleNode, type ModuleTree, type ScopeSource } from './modules';
export { findParams, LARGE_CONSTANT_ELEMENTS, type ParamTensor } from './params';
export { nodeCost, type NodeCost } from './flops';
export { analyzeModel, analyzeWithValues, resolveInputShapes, type AnalyzeOptions, type ModelAnalysis, type ModuleStats } from './analyze';
export { buildInspectReport, renderInspectText, humanCount, humanBytes, INSPECT_SCHEMA, type InspectReport, type IoReport, type ModuleReport } from './report';
export { buildGraphIndex, indexModules, indexAttribute, GRAPH_INDEX_SCHEMA, type GraphIndex, type IndexAttribute, type IndexModule, type IndexNode } from './graph-index';
export { readFoldValues, isFoldable, MAX_FOLD_ELEMENTS } from './tensor-values';
export { walkValues } from './traverse';
export { describeNode, describeValue, findCycle } from './acyclic';
export { moduleSummary, type ModuleSummary, type SummaryModule } from './module-summary';
export { findStacks, resolveStack, MIN_STACK_MEMBERS, type DepthStack } from './stacks';
