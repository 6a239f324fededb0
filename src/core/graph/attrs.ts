// Typed access to node attributes, with ONNX's defaults supplied by the caller.
import type { Attribute, Node } from '../onnx/types';

export function attr(node: Node, name: string): Attribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

export function attrInt(node: Node, name: string, dflt: number): number;
export function attrInt(node: Node, name: string): number | undefined;
export function attrInt(node: Node, name: string, dflt?: number): number | undefined {
  const a = attr(node, name);
  return a?.i !== undefined ? Number(a.i) : dflt;
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const a = attr(node, name);
  return a?.ints ? a.ints.map(Number) : undefined;
}

export function attrFloat(node: Node, name: string, dflt?: number): number | undefined {
  const a = attr(node, name);
  return a?.f !== undefined ? a.f : dflt;
}

export function attrFloats(node: Node, name: string): number[] | undefined {
  return attr(node, name)?.floats;
}

export function attrString(node: Node, name: string, dflt?: string): string | undefined {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}
