"""ONNX graph -> torch.nn.Module that executes the graph node by node.

The float initializers become trainable nn.Parameters holding exactly the stored weights; everything else
(integer initializers, Constant nodes) becomes fixed tensors. Nodes run in topological order through the
handlers of `ops.OPS`. Module scopes in node names (`/down_blocks.1/resnets.0/conv1/Conv`, as torch.onnx writes
them) are kept twice over: as a tree of submodules that every node is called through while torch.onnx traces
the module (so a re-export writes the same scopes into its node names), and as a map from each scope to the
value that is that scope's output (for feature distillation).
"""
import os
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import onnx
import torch
from torch import nn

from . import ops
from .attention import fuse_attention
from .ops import ONNX_TO_TORCH_DTYPE, NodeSpec, UnsupportedVariant, tensor_from_proto

DEFAULT_DOMAINS = ("", "ai.onnx")
FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
STAGE_PATTERN = re.compile(r"^(down_blocks\.\d+|mid_block|up_blocks\.\d+)$")
# a diffusion transformer's depth (DiT/PixArt/SD3: transformer_blocks.N; FLUX also single_transformer_blocks.N)
TRANSFORMER_STAGE_PATTERN = re.compile(r"^(single_)?transformer_blocks\.\d+$")


class OnnxImportError(Exception):
    """A model that cannot be imported; the message names the file and the problem."""


class UnsupportedOperatorError(OnnxImportError):
    def __init__(self, source: str, problems: "OrderedDict[str, List[str]]"):
        self.source = source
        self.problems = problems
        parts = []
        for what, nodes in problems.items():
            shown = ", ".join(nodes[:5]) + (f" and {len(nodes) - 5} more" if len(nodes) > 5 else "")
            parts.append(f"{what} (node{'s' if len(nodes) > 1 else ''} {shown})")
        super().__init__(f"{source}: unsupported ONNX operator(s): " + "; ".join(parts))


# ------------------------------------------------------------------------------------------------ loading

def load_model(path: str) -> onnx.ModelProto:
    """Loads a model and its external data, refusing data files outside the model's folder."""
    if not os.path.isfile(path):
        raise OnnxImportError(f"{path}: no such file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf's DecodeError and friends
        raise OnnxImportError(f"{path}: not a readable ONNX model ({e})") from e
    base = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        target = os.path.realpath(os.path.join(base, location))
        if os.path.isabs(location) or not (target == base or target.startswith(base + os.sep)):
            raise OnnxImportError(f"{path}: tensor '{tensor.name}' points to external data outside the model's "
                                  f"folder ('{location}')")
        if not os.path.isfile(target):
            raise OnnxImportError(f"{path}: external data file '{location}' of tensor '{tensor.name}' is missing")
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
        with open(target, "rb") as f:
            f.seek(offset)
            data = f.read() if length is None else f.read(length)
        if length is not None and len(data) != length:
            raise OnnxImportError(f"{path}: external data '{location}' is shorter than tensor '{tensor.name}' needs")
        tensor.raw_data = data
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
    return model


def _all_tensors(graph: onnx.GraphProto):
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield a.t


def node_scope(name: str) -> Tuple[str, ...]:
    """'/down_blocks.1/resnets.0/conv1/Conv' -> ('down_blocks.1', 'resnets.0', 'conv1')."""
    if not name.startswith("/"):
        return ()
    parts = name.split("/")[1:-1]
    return tuple(p for p in parts if p)


def scope_key(scope: Sequence[str]) -> str:
    return ".".join(scope)


# ------------------------------------------------------------------------------------------- module tree

class _Scope(nn.Module):
    """One module scope. While tracing, each run of consecutive nodes of a scope executes inside one call of
    its module so that torch.onnx names the exported nodes `/a/b/OpType` again."""

    def forward(self, fn):
        return fn()


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^[0-9]+$")


class _Step:
    __slots__ = ("name", "op_type", "inputs", "outputs", "fn", "chain", "free", "index", "shape_only")


class OnnxModule(nn.Module):
    """Executes an ONNX graph. forward(*inputs) takes the graph inputs in order (or by name as keywords)."""

    def __init__(self, model: Union[str, onnx.ModelProto], source: Optional[str] = None, trainable: bool = True,
                 fused_attention: bool = True):
        """`fused_attention`: run each attention chain the graph spells out node by node as one
        scaled-dot-product-attention step (see attention.py); results agree within float tolerance."""
        super().__init__()
        if isinstance(model, str):
            source = source or model
            model = load_model(model)
        self.source = source or "<model>"
        graph = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS), 1)
        self.graph_name = graph.name

        initializers = {t.name: t for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in initializers]
        self.output_names = [o.name for o in graph.output]
        self.input_info = OrderedDict()
        for i in graph.input:
            if i.name in initializers:
                continue
            tt = i.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim] \
                if tt.HasField("shape") else None
            self.input_info[i.name] = {"elem_type": tt.elem_type, "dims": dims}
        self.output_info = OrderedDict()
        for o in graph.output:
            tt = o.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim] \
                if tt.HasField("shape") else None
            self.output_info[o.name] = {"elem_type": tt.elem_type, "dims": dims}

        nodes = self._topological(list(graph.node))
        used = {n for node in nodes for n in node.input if n} | set(self.output_names)
        self._check_supported(nodes)

        # Fixed values: CPU tensors in a plain dict, so shape arithmetic never waits on an accelerator;
        # float constants with elements move with the module as buffers.
        self._fixed: Dict[str, torch.Tensor] = {}
        self._elem_types: Dict[str, int] = {}
        self._refs: List[Tuple[str, nn.Module, str]] = []  # value name -> (module, attribute) resolved per call
        self.initializer_of_param: Dict[str, str] = {}

        self._build_scope_tree(nodes)
        self._const_holder = _Scope()
        self._param_holder = _Scope()
        self._used_names = set()
        self._params_by_value: Dict[str, nn.Parameter] = {}

        untie = {}  # Identity(initializer): the exporter's merge of equal weights; give each its own copy
        for node in nodes:
            if node.op_type == "Identity" and node.input[0] in initializers \
                    and initializers[node.input[0]].data_type in FLOAT_TYPES:
                untie[node.output[0]] = node.input[0]

        for name, tp in initializers.items():
            if name not in used:
                continue
            try:
                value = tensor_from_proto(tp)
            except UnsupportedVariant as e:
                raise OnnxImportError(f"{self.source}: initializer '{name}': {e}") from e
            self._elem_types[name] = tp.data_type
            if tp.data_type in FLOAT_TYPES:
                self._add_param(name, value, trainable)
            else:
                self._fixed[name] = value
        for out, src in untie.items():
            self._elem_types[out] = initializers[src].data_type
            self._add_param(out, tensor_from_proto(initializers[src]), trainable)

        self._steps: List[_Step] = []
        problems: "OrderedDict[str, List[str]]" = OrderedDict()
        for index, node in enumerate(nodes):
            name = node.name or f"{node.op_type}_{index}"
            if node.op_type == "Identity" and node.output[0] in untie:
                continue
            try:
                spec = NodeSpec(node, self.opset, self._fixed)
                fn = ops.with_cpu_half_fallback(node.op_type, ops.OPS[node.op_type](spec))
                if node.op_type == "Constant":
                    value = fn()
                    self._elem_types[node.output[0]] = ops.TORCH_TO_ONNX_DTYPE.get(value.dtype, 0)
                    if value.is_floating_point() and value.dim() > 0:
                        self._add_buffer(node.output[0], value)
                    else:
                        self._fixed[node.output[0]] = value
                    continue
            except UnsupportedVariant as e:
                problems.setdefault(f"{node.op_type} with {e}", []).append(name)
                continue
            step = _Step()
            step.name, step.op_type, step.index = name, node.op_type, index
            step.inputs = list(node.input)
            while step.inputs and step.inputs[-1] == "":
                step.inputs.pop()
            step.outputs = list(node.output)
            step.fn = fn
            step.chain = self._chain_for(node_scope(name))
            self._steps.append(step)
        if problems:
            raise UnsupportedOperatorError(self.source, problems)

        self._infer_elem_types(graph, nodes)
        self._check_inputs_defined()
        self._capture: List[str] = []
        self._plan_shape_cache()
        self._fused_steps: Optional[List[_Step]] = None
        self._fused_away: set = set()
        self.fused_attentions = 0
        if fused_attention:
            default_axis = -1 if self.opset >= 13 else 1
            axis = lambda s: next((a.i for a in nodes[s.index].attribute if a.name == "axis"), default_axis)  # noqa: E731
            self._fused_steps, self._fused_away, self.fused_attentions = fuse_attention(
                self._steps, self._fixed, axis, set(self.output_names))
        self._plan_frees()

    # ------------------------------------------------------------------------------------ construction

    def _topological(self, nodes):
        produced = {o for n in nodes for o in n.output if o}
        order, pending = [], list(nodes)
        available = set()
        # Kahn's algorithm, stable: keeps the file's order whenever it is already valid.
        while pending:
            progressed = False
            rest = []
            for n in pending:
                if all((not i) or (i not in produced) or (i in available) for i in n.input):
                    order.append(n)
                    available.update(o for o in n.output if o)
                    progressed = True
                else:
                    rest.append(n)
            if not progressed:
                names = ", ".join((n.name or n.op_type) for n in rest[:5])
                raise OnnxImportError(f"{self.source}: the graph has a cycle (at {names})")
            pending = rest
        return order

    def _check_supported(self, nodes):
        problems: "OrderedDict[str, List[str]]" = OrderedDict()
        for i, n in enumerate(nodes):
            name = n.name or f"{n.op_type}_{i}"
            if n.domain not in DEFAULT_DOMAINS:
                problems.setdefault(f"{n.domain}.{n.op_type}", []).append(name)
            elif n.op_type not in ops.OPS:
                problems.setdefault(n.op_type, []).append(name)
        if problems:
            raise UnsupportedOperatorError(self.source, problems)

    def _child(self, parent: nn.Module, name: str) -> nn.Module:
        existing = parent._modules.get(name)
        if existing is not None:
            return existing
        safe = name
        while hasattr(parent, safe) and safe not in parent._modules:
            safe += "_"
        if safe in parent._modules:
            return parent._modules[safe]
        m = _Scope()
        parent.add_module(safe, m)
        return m

    def _build_scope_tree(self, nodes):
        self._scope_modules: Dict[Tuple[str, ...], nn.Module] = {}
        for i, n in enumerate(nodes):
            self._chain_for(node_scope(n.name or ""))

    def _chain_for(self, scope: Tuple[str, ...]) -> List[nn.Module]:
        """Modules to call, one per scope component; 'down_blocks.1' is container 'down_blocks', child '1',
        which torch.onnx names 'down_blocks.1' again (it skips numeric atoms when naming scopes)."""
        chain = []
        parent: nn.Module = self
        for depth in range(len(scope)):
            key = scope[: depth + 1]
            mod = self._scope_modules.get(key)
            if mod is None:
                mod = parent
                for atom in scope[depth].split("."):
                    mod = self._child(mod, atom if atom else "_")
                self._scope_modules[key] = mod
            chain.append(mod)
            parent = mod
        return chain

    def _unique(self, name: str) -> str:
        safe = re.sub(r"[^A-Za-z0-9_]", "_", name) or "_"
        base, k = safe, 1
        while safe in self._used_names:
            safe = f"{base}_{k}"
            k += 1
        self._used_names.add(safe)
        return safe

    def _add_param(self, name: str, value: torch.Tensor, trainable: bool):
        p = nn.Parameter(value, requires_grad=trainable)
        atoms = name.split(".")
        holder: Optional[nn.Module] = None
        if len(atoms) > 1 and all(_IDENT.match(a) for a in atoms):
            # Registered where its name says, so the state_dict and a re-export keep 'down_blocks.0....weight'.
            holder = self
            for a in atoms[:-1]:
                nxt = holder._modules.get(a)
                if nxt is None:
                    if hasattr(holder, a):
                        holder = None
                        break
                    nxt = _Scope()
                    holder.add_module(a, nxt)
                holder = nxt
            if holder is not None and (hasattr(holder, atoms[-1]) or atoms[-1].isdigit()):
                holder = None
        if holder is None:
            holder, attr = self._param_holder, self._unique(name)
        else:
            attr = atoms[-1]
        holder.register_parameter(attr, p)
        self._refs.append((name, holder, attr))
        self._params_by_value[name] = p

    def _add_buffer(self, name: str, value: torch.Tensor):
        attr = self._unique(name)
        self._const_holder.register_buffer(attr, value, persistent=False)
        self._refs.append((name, self._const_holder, attr))

    def _infer_elem_types(self, graph, nodes):
        """A static guess of each value's element type: enough to tell activations from shape arithmetic."""
        t = self._elem_types
        for name, info in self.input_info.items():
            t[name] = info["elem_type"]
        bool_ops = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor"}
        for n in nodes:
            if n.op_type in ("Shape", "Size"):
                out = onnx.TensorProto.INT64
            elif n.op_type == "Cast":
                out = next(a.i for a in n.attribute if a.name == "to")
            elif n.op_type in bool_ops:
                out = onnx.TensorProto.BOOL
            elif n.op_type == "ConstantOfShape":
                v = next((a.t for a in n.attribute if a.name == "value"), None)
                out = v.data_type if v is not None else onnx.TensorProto.FLOAT
            elif n.op_type == "Where":
                out = t.get(n.input[1], 0)
            elif n.op_type == "CastLike":
                out = t.get(n.input[1], 0)
            elif n.op_type == "Constant":
                continue
            else:
                out = next((t[i] for i in n.input if i and t.get(i)), 0)
            for o in n.output:
                if o and o not in t:
                    t[o] = out

    def _check_inputs_defined(self):
        defined = set(self.input_names) | set(self._fixed) | {r[0] for r in self._refs}
        for s in self._steps:
            for i in s.inputs:
                if i and i not in defined:
                    raise OnnxImportError(f"{self.source}: node '{s.name}' reads '{i}', which no node, input or "
                                          f"initializer defines")
            defined.update(o for o in s.outputs if o)
        for o in self.output_names:
            if o not in defined:
                raise OnnxImportError(f"{self.source}: graph output '{o}' is never computed")

    def _plan_frees(self):
        """Chooses the execution plan (fused attention unless a captured value exists only unfused) and marks
        in each plan where every value is read for the last time, so it is dropped there."""
        keep = set(self.output_names) | set(self._capture) | set(self._fixed) | {r[0] for r in self._refs}
        for steps in (self._steps, self._fused_steps or []):
            last_use: Dict[str, int] = {}
            for k, s in enumerate(steps):
                for i in s.inputs:
                    if i:
                        last_use[i] = k
                for o in s.outputs:
                    if o and o not in last_use:
                        last_use[o] = k
            frees: Dict[int, List[str]] = {}
            for v, k in last_use.items():
                if v not in keep:
                    frees.setdefault(k, []).append(v)
            for k, s in enumerate(steps):
                s.free = frees.get(k, [])
        usable = self._fused_steps is not None and not (set(self._capture) & self._fused_away)
        self._plan = self._fused_steps if usable else self._steps
        self._data_steps = [s for s in self._plan if not s.shape_only]

    def _plan_shape_cache(self):
        """Marks the steps that compute only from shapes and constants (Shape -> Gather -> Concat chains). Their
        values are a function of the input shapes, so after the first call with given input shapes they are
        replayed from a cache instead of executed: a U-Net export is about half such nodes."""
        shape_only = set(self._fixed)
        for s in self._steps:
            if s.op_type in ("Shape", "Size") or (s.inputs and all((not i) or i in shape_only for i in s.inputs)):
                s.shape_only = True
                shape_only.update(o for o in s.outputs if o)
            else:
                s.shape_only = False
        self._shape_cache: "OrderedDict[tuple, Dict[str, torch.Tensor]]" = OrderedDict()

    # ---------------------------------------------------------------------------------------- queries

    @property
    def value_names(self) -> List[str]:
        names = list(self.input_names)
        for s in self._steps:
            names += [o for o in s.outputs if o]
        return names

    def is_float_value(self, name: str) -> bool:
        return self._elem_types.get(name, 0) in FLOAT_TYPES

    def nodes(self) -> List[Tuple[str, str, List[str], List[str]]]:
        return [(s.name, s.op_type, list(s.inputs), list(s.outputs)) for s in self._steps]

    def scope_outputs(self) -> "OrderedDict[str, str]":
        """Scope ('down_blocks.1', 'down_blocks.1.resnets.0', ...) -> the value that is its output: of the float
        values its nodes produce and something outside the scope consumes, the one produced last."""
        consumers: Dict[str, List[int]] = {}
        for k, s in enumerate(self._steps):
            for i in s.inputs:
                if i:
                    consumers.setdefault(i, []).append(k)
        graph_outputs = set(self.output_names)
        scopes = [node_scope(s.name) for s in self._steps]
        members: Dict[Tuple[str, ...], List[int]] = OrderedDict()
        for k, sc in enumerate(scopes):
            for d in range(1, len(sc) + 1):
                members.setdefault(sc[:d], []).append(k)
        result = OrderedDict()
        for prefix, idxs in members.items():
            best = None
            for k in idxs:
                for o in self._steps[k].outputs:
                    if not o or not self.is_float_value(o):
                        continue
                    outside = o in graph_outputs or any(scopes[c][: len(prefix)] != prefix
                                                        for c in consumers.get(o, []))
                    if outside:
                        best = o
            if best is not None:
                result[scope_key(prefix)] = best
        return result

    def stage_outputs(self) -> "OrderedDict[str, str]":
        """The outputs of the U-Net stages (down_blocks.N, mid_block, up_blocks.N) in execution order; for a
        diffusion transformer (no U-Net stages), those of its top-level transformer blocks."""
        outs = self.scope_outputs()
        unet = OrderedDict((k, v) for k, v in outs.items() if STAGE_PATTERN.match(k))
        return unet if unet else OrderedDict((k, v) for k, v in outs.items() if TRANSFORMER_STAGE_PATTERN.match(k))

    def param_value_names(self) -> List[str]:
        return [r[0] for r in self._refs if isinstance(getattr(r[1], r[2]), nn.Parameter)]

    def parameter_for(self, value_name: str) -> nn.Parameter:
        return self._params_by_value[value_name]

    # ------------------------------------------------------------------------------------------ running

    def set_capture(self, names: Iterable[str]):
        """Intermediate values that forward() returns as a second result (kept alive for the backward pass)."""
        names = list(names)
        known = set(self.value_names)
        missing = [n for n in names if n not in known]
        if missing:
            raise OnnxImportError(f"{self.source}: no value named {', '.join(missing)}")
        self._capture = names
        self._plan_frees()

    def run(self, feeds: Dict[str, torch.Tensor], capture: Iterable[str] = ()) -> Dict[str, torch.Tensor]:
        """Runs the graph on named inputs; returns the graph outputs plus the captured values by name."""
        old = self._capture
        capture = list(capture)
        if capture != old:
            self.set_capture(capture)
        try:
            env = self._execute(feeds)
        finally:
            if capture != old:
                self.set_capture(old)
        return {n: env[n] for n in list(self.output_names) + capture}

    def forward(self, *args, **kwargs):
        feeds = dict(zip(self.input_names, args))
        feeds.update(kwargs)
        env = self._execute(feeds)
        outs = tuple(env[n] for n in self.output_names)
        out = outs[0] if len(outs) == 1 else outs
        if self._capture:
            return out, [env[n] for n in self._capture]
        return out

    def _execute(self, feeds: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        missing = [n for n in self.input_names if n not in feeds or feeds[n] is None]
        if missing:
            raise OnnxImportError(f"{self.source}: missing input(s) {', '.join(missing)} "
                                  f"(the graph takes {', '.join(self.input_names)})")
        unknown = [n for n in feeds if n not in self.input_info]
        if unknown:
            raise OnnxImportError(f"{self.source}: unknown input(s) {', '.join(unknown)} "
                                  f"(the graph takes {', '.join(self.input_names)})")
        env: Dict[str, torch.Tensor] = dict(self._fixed)
        for name, holder, attr in self._refs:
            env[name] = getattr(holder, attr)
        env.update(feeds)
        if torch.jit.is_tracing():
            self._run_scoped(env, self._steps, 0)
            return env
        key = tuple((n, tuple(v.shape), v.dtype) for n, v in sorted(feeds.items()))
        cached = self._shape_cache.get(key)
        if cached is not None:
            env.update(cached)
            for s in self._data_steps:
                self._run_step(env, s)
            return env
        record: Dict[str, torch.Tensor] = {}
        for s in self._plan:
            self._run_step(env, s, record if s.shape_only else None)
        self._shape_cache[key] = record
        while len(self._shape_cache) > 16:
            self._shape_cache.popitem(last=False)
        return env

    def _run_step(self, env, s, record=None):
        args = [env[i] if i else None for i in s.inputs]
        try:
            out = s.fn(*args)
        except Exception as e:
            shapes = ", ".join(str(tuple(a.shape)) if isinstance(a, torch.Tensor) else "none" for a in args)
            raise RuntimeError(f"{self.source}: node '{s.name}' ({s.op_type}) failed on inputs [{shapes}]: "
                               f"{e}") from e
        if isinstance(out, (tuple, list)):
            for name, o in zip(s.outputs, out):
                if name:
                    env[name] = o
        else:
            env[s.outputs[0]] = out
        if record is not None:
            for o in s.outputs:
                if o:
                    record[o] = env[o]
        for v in s.free:
            env.pop(v, None)

    def _run_scoped(self, env, steps, depth):
        """Runs steps, entering the depth-th scope module once per run of consecutive steps that share it."""
        i = 0
        while i < len(steps):
            chain = steps[i].chain
            if len(chain) <= depth:
                self._run_step(env, steps[i])
                i += 1
                continue
            mod = chain[depth]
            j = i + 1
            while j < len(steps) and len(steps[j].chain) > depth and steps[j].chain[depth] is mod:
                j += 1
            group = steps[i:j]
            mod(lambda: self._run_scoped(env, group, depth + 1))
            i = j


def import_model(path: str, trainable: bool = True) -> OnnxModule:
    return OnnxModule(path, source=path, trainable=trainable)
