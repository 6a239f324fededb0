// "Open node" from the graph: a read-only JSON document with a node's full definition (op, module,
// every input and output with shape and type, decoded attributes). Tensors show their header, never bytes.
import * as vscode from 'vscode';
import * as path from 'node:path';
import { AttrType, elemTypeName, type Attribute, type TensorData } from '../../core/onnx/types';
import { formatShape, type ModelAnalysis } from '../../core/graph';
import type { ModelService } from '../model/modelService';

export const NODE_SCHEME = 'ld-surgeon-node';

export function nodeUri(modelPath: string, nodeId: string): vscode.Uri {
  // path: what the tab shows; query: which model
  const safe = nodeId.replace(/[\\/]/g, '_') || 'node';
  return vscode.Uri.from({ scheme: NODE_SCHEME, path: `/${path.basename(modelPath)}/${safe}.json`, query: JSON.stringify({ modelPath, nodeId }) });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const tensorHeader = (t: TensorData) => ({ tensor: t.name, type: elemTypeName(t.elemType), dims: t.dims });

function attrValue(a: Attribute): unknown {
  switch (a.type) {
    case AttrType.FLOAT: return a.f;
    case AttrType.INT: return typeof a.i === 'bigint' ? a.i.toString() : a.i;
    case AttrType.STRING: return a.s ? text(a.s) : '';
    case AttrType.TENSOR: return a.t ? tensorHeader(a.t) : null;
    case AttrType.GRAPH: return a.g ? { graph: a.g.name, nodes: a.g.nodes.length } : null;
    case AttrType.FLOATS: return a.floats ?? [];
    case AttrType.INTS: return (a.ints ?? []).map((v) => (typeof v === 'bigint' ? v.toString() : v));
    case AttrType.STRINGS: return (a.strings ?? []).map(text);
    case AttrType.TENSORS: return (a.tensors ?? []).map(tensorHeader);
    case AttrType.GRAPHS: return (a.graphs ?? []).map((g) => ({ graph: g.name, nodes: g.nodes.length }));
    default: return a.refAttrName ? { ref: a.refAttrName } : `(${AttrType[a.type] ?? a.type})`;
  }
}

export function describeNode(a: ModelAnalysis, nodeId: string): Record<string, unknown> | undefined {
  const node = a.view.nodeById(nodeId);
  if (!node) return undefined;
  const value = (name: string) => {
    if (!name) return { name: '', omitted: true };
    const f = a.shapes.get(name);
    return { name, kind: a.view.kind(name), type: f?.elemType ? elemTypeName(f.elemType) : undefined, shape: formatShape(f?.shape) };
  };
  const cost = a.cost.get(node);
  return {
    id: nodeId,
    name: node.name,
    op: node.opType,
    ...(node.domain ? { domain: node.domain } : {}),
    module: a.tree.moduleOf.get(node)?.id ?? '',
    ...(a.noise.has(node) ? { exporterNoise: a.noise.get(node) } : { flops: cost?.flops ?? null, macs: cost?.macs ?? null }),
    inputs: node.inputs.map(value),
    outputs: node.outputs.map(value),
    attributes: Object.fromEntries(node.attributes.map((x) => [x.name, attrValue(x)])),
    ...(node.docString ? { docString: node.docString } : {}),
  };
}

export class NodeDocumentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly models: ModelService) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const { modelPath, nodeId } = JSON.parse(uri.query) as { modelPath: string; nodeId: string };
    const described = describeNode(await this.models.analysis(modelPath), nodeId);
    if (!described) throw new Error(`${modelPath} has no node '${nodeId}'`);
    return JSON.stringify(described, null, 2) + '\n';
  }
}

export async function openNode(modelPath: string, nodeId: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(nodeUri(modelPath, nodeId));
  await vscode.languages.setTextDocumentLanguage(doc, 'json');
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}
