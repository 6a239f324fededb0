// The per-operator rules of every op family, by op type, and the dispatch that picks one.
import { CONV } from './conv';
import { ELEMENTWISE } from './elementwise';
import type { OpContext, Rule, RuleTable, ValueFacts } from './facts';
import { INDEXING } from './indexing';
import { LINEAR } from './linear';
import { NORMALIZATION } from './normalization';
import { POOLING } from './pooling';
import { REDUCTIONS } from './reduce';
import { RESHAPE } from './reshape';
import { RESIZE } from './resize';
import { SHAPE_TENSORS } from './shape-tensors';

const FAMILIES: readonly RuleTable[] = [ELEMENTWISE, SHAPE_TENSORS, RESHAPE, INDEXING, CONV, POOLING, LINEAR, NORMALIZATION, REDUCTIONS, RESIZE];

const RULES = new Map<string, Rule>();
for (const family of FAMILIES) {
  for (const [op, rule] of family) {
    // an op in two families would make the answer depend on this list's order
    if (RULES.has(op)) throw new Error(`shape rules: ${op} is defined twice`);
    RULES.set(op, rule);
  }
}

export function inferNode(c: OpContext): (ValueFacts | undefined)[] {
  const domain = c.node.domain;
  if (domain !== '' && domain !== 'ai.onnx' && domain !== 'com.microsoft') return [];
  const rule = RULES.get(c.node.opType);
  return rule ? rule(c) : [];
}

// Subgraph ops (If/Loop/Scan) and unknown ops keep their declared shapes only.
export function opHasShapeRule(opType: string): boolean {
  return RULES.has(opType);
}
