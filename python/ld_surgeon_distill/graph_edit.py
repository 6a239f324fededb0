"""Small ONNX-level edits: bypassing a residual module scope (its output replaced by its main input), as block
removal does (BK-SDM, LD-Pruner); every remaining weight is kept as it is. Used by tests and the benchmark to make
students until a pruner's output is at hand."""
from typing import List, Optional

import onnx

from .onnx_import import node_scope


def _consumers(graph):
    out = {}
    for i, n in enumerate(graph.node):
        for v in n.input:
            out.setdefault(v, []).append(i)
    return out


def bypass_scope(model: onnx.ModelProto, scope: str, input_value: Optional[str] = None) -> onnx.ModelProto:
    """Returns a copy of `model` where module `scope` ('mid_block.attentions.0') is skipped: consumers of its output
    read its input instead (the float value from outside the scope produced last, unless `input_value` is given).
    The scope's nodes, and whatever only they used, are removed."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    parts = tuple(scope.split("/")) if "/" in scope else _split_scope(scope, g)
    inside = [i for i, n in enumerate(g.node) if node_scope(n.name)[: len(parts)] == parts]
    if not inside:
        raise ValueError(f"no nodes in scope '{scope}'")
    inside_set = set(inside)
    produced = {}
    for i, n in enumerate(g.node):
        for o in n.output:
            produced[o] = i
    cons = _consumers(g)
    graph_outputs = {o.name for o in g.output}
    outs = [o for i in inside for o in g.node[i].output
            if o and (o in graph_outputs or any(c not in inside_set for c in cons.get(o, [])))]
    if not outs:
        raise ValueError(f"scope '{scope}' has no output used outside it")
    out_value = max(outs, key=lambda v: produced[v])
    inits = {t.name for t in g.initializer}
    if input_value is None:
        candidates = [v for i in inside for v in g.node[i].input
                      if v and v not in inits and (v not in produced or produced[v] not in inside_set)]
        float_inputs = {i.name for i in g.input if i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
        candidates = [v for v in candidates if v in produced and _is_activation(g, produced[v]) or v in float_inputs]
        if not candidates:
            raise ValueError(f"scope '{scope}' reads no activation from outside")
        input_value = max(candidates, key=lambda v: produced.get(v, -1))
    for i, n in enumerate(g.node):
        if i in inside_set:
            continue
        for k, v in enumerate(n.input):
            if v == out_value:
                n.input[k] = input_value
    for o in g.output:
        if o.name == out_value:
            g.node.append(onnx.helper.make_node("Identity", [input_value], [out_value], name=f"/{parts[0]}/Bypass"))
    keep = [n for i, n in enumerate(g.node) if i not in inside_set]
    del g.node[:]
    g.node.extend(keep)
    remove_dead(m)
    return m


def _split_scope(scope: str, graph) -> tuple:
    """'mid_block.attentions.0' -> ('mid_block', 'attentions.0'): match against the scopes in node names."""
    for n in graph.node:
        sc = node_scope(n.name)
        for d in range(1, len(sc) + 1):
            if ".".join(sc[:d]) == scope:
                return tuple(sc[:d])
    raise ValueError(f"no module scope '{scope}' in the graph")


def _is_activation(graph, index: int) -> bool:
    return graph.node[index].op_type not in ("Shape", "Constant", "ConstantOfShape", "Gather", "Unsqueeze",
                                             "Concat", "Cast", "Range", "Slice", "Squeeze")


def remove_dead(model: onnx.ModelProto):
    """Drops nodes whose outputs reach no graph output, then initializers nothing reads."""
    g = model.graph
    needed = {o.name for o in g.output}
    keep: List[onnx.NodeProto] = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(v for v in n.input if v)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    used = {v for n in g.node for v in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
