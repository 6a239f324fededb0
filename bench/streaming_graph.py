"""Builds a large ONNX graph node by node with onnx.helper, streaming every weight into one external-data
sidecar as it is declared, so a multi-gigabyte model is written without ever holding its weights in memory.

Why not torch.onnx.export (as gen_sd_unet.py does): exporting a 2.6 B-parameter SDXL U-Net or a FLUX-sized
transformer needs the weights in memory twice (module + ModelProto), more than this machine has; and only the
graph's names, shapes and node count matter to the benchmarks, not the trained values. Node names follow the
TorchScript exporter's scope convention (/transformer_blocks.3/attn/to_q/MatMul) so modules group as in a real
export; weights are deterministic pseudo-random values at a small scale, so the graph also runs in onnxruntime.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class StreamingGraph:
    def __init__(self, folder, seed=0, opset=17, sidecar="model.onnx.data"):
        self.folder = folder
        self.sidecar = sidecar
        self.opset = opset
        self.nodes, self.inputs, self.outputs, self.initializers = [], [], [], []
        self.names = {}
        self.params = 0
        self.rng = np.random.default_rng(seed)
        self._data = open(os.path.join(folder, sidecar), "wb")
        self._offset = 0
        # One pool of random values reused at varying offsets: generating billions of normals would dominate
        # the run while adding nothing the benchmarks can see.
        self._pool = (self.rng.standard_normal(1 << 22) * 0.02).astype(np.float32)

    # ---- graph I/O --------------------------------------------------------------------------------------
    def input(self, name, dims, elem=TensorProto.FLOAT):
        self.inputs.append(helper.make_tensor_value_info(name, elem, dims))
        return name

    def output(self, value, name, dims, elem=TensorProto.FLOAT):
        if value != name:
            self.node("Identity", [value], "", outputs=[name])
        self.outputs.append(helper.make_tensor_value_info(name, elem, dims))
        return name

    # ---- weights ----------------------------------------------------------------------------------------
    def weight(self, name, shape, fill=None):
        """A float32 initializer written to the sidecar now; fill: a constant instead of random values."""
        count = int(np.prod(shape)) if shape else 1
        self.params += count
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = TensorProto.FLOAT
        tensor.dims.extend(shape)
        if count <= 64 or fill is not None:
            values = np.full(count, 0.0 if fill is None else fill, dtype=np.float32) if fill is not None else self._take(count)
            tensor.raw_data = values.tobytes()
        else:
            # page-aligned like onnx's own external-data writer, so readers can map tensors
            pad = (-self._offset) % 4096
            if pad:
                self._data.write(b"\0" * pad)
                self._offset += pad
            start = self._offset
            remaining = count
            while remaining:
                chunk = self._take(min(remaining, 1 << 20))
                self._data.write(chunk.tobytes())
                remaining -= chunk.size
            self._offset += count * 4
            tensor.data_location = TensorProto.EXTERNAL
            for k, v in (("location", self.sidecar), ("offset", str(start)), ("length", str(count * 4))):
                entry = tensor.external_data.add()
                entry.key, entry.value = k, v
        self.initializers.append(tensor)
        return name

    def _take(self, count):
        start = int(self.rng.integers(0, self._pool.size - count + 1)) if count < self._pool.size else 0
        if count <= self._pool.size:
            return self._pool[start:start + count]
        return np.resize(self._pool, count)

    def const(self, scope, values, dtype=np.int64):
        """A small constant (shape, axes, scale) as a Constant node, as the exporter emits them."""
        arr = np.asarray(values, dtype=dtype)
        out = self._fresh(f"{scope}/Constant")
        self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=numpy_helper.from_array(arr)))
        return out

    # ---- nodes ------------------------------------------------------------------------------------------
    def _fresh(self, base):
        n = self.names.get(base, 0)
        self.names[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def node(self, op, inputs, scope, outputs=None, n_out=1, **attrs):
        name = self._fresh(f"{scope}/{op}")
        outs = outputs or ([f"{name}_output_0"] if n_out == 1 else [f"{name}_output_{i}" for i in range(n_out)])
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0] if n_out == 1 and not outputs else outs

    # ---- layers with torch's exported op patterns -----------------------------------------------------------
    def linear(self, x, fan_in, fan_out, scope, bias=True):
        w = self.weight(f"{scope.strip('/').replace('/', '.')}.weight", [fan_in, fan_out])
        y = self.node("MatMul", [x, w], scope)
        if bias:
            b = self.weight(f"{scope.strip('/').replace('/', '.')}.bias", [fan_out])
            y = self.node("Add", [b, y], scope)
        return y

    def conv(self, x, cin, cout, k, scope, stride=1):
        p = scope.strip("/").replace("/", ".")
        w = self.weight(f"{p}.weight", [cout, cin, k, k])
        b = self.weight(f"{p}.bias", [cout])
        return self.node("Conv", [x, w, b], scope, kernel_shape=[k, k], pads=[k // 2] * 4, strides=[stride, stride],
                         dilations=[1, 1], group=1)

    def layer_norm(self, x, dim, scope, affine=True, eps=1e-6):
        p = scope.strip("/").replace("/", ".")
        scale = self.weight(f"{p}.weight", [dim]) if affine else self.weight(f"{p}.ones", [dim], fill=1.0)
        bias = self.weight(f"{p}.bias", [dim]) if affine else self.weight(f"{p}.zeros", [dim], fill=0.0)
        return self.node("LayerNormalization", [x, scale, bias], scope, axis=-1, epsilon=eps)

    def group_norm(self, x, channels, groups, scope, eps=1e-5):
        """torch's GroupNorm export: Reshape to [N, G, -1], InstanceNormalization, Reshape back, affine."""
        p = scope.strip("/").replace("/", ".")
        shape = self.node("Shape", [x], scope)
        grouped = self.node("Reshape", [x, self.const(scope, [0, groups, -1])], scope)
        ones = self.weight(f"{p}.group_ones", [groups], fill=1.0)
        zeros = self.weight(f"{p}.group_zeros", [groups], fill=0.0)
        normed = self.node("InstanceNormalization", [grouped, ones, zeros], scope, epsilon=eps)
        back = self.node("Reshape", [normed, shape], scope)
        gamma = self.weight(f"{p}.weight", [channels, 1, 1])
        beta = self.weight(f"{p}.bias", [channels, 1, 1])
        return self.node("Add", [self.node("Mul", [back, gamma], scope), beta], scope)

    def rms_norm(self, x, dim, scope, eps=1e-6):
        p = scope.strip("/").replace("/", ".")
        sq = self.node("Mul", [x, x], scope)
        mean = self.node("ReduceMean", [sq], scope, axes=[-1], keepdims=1)
        rms = self.node("Sqrt", [self.node("Add", [mean, self.const(scope, eps, np.float32)], scope)], scope)
        return self.node("Mul", [self.node("Div", [x, rms], scope), self.weight(f"{p}.weight", [dim])], scope)

    def silu(self, x, scope):
        return self.node("Mul", [x, self.node("Sigmoid", [x], scope)], scope)

    def gelu(self, x, scope):
        """erf GELU as torch exports it at opset 17 (Gelu is an opset-20 op)."""
        half = self.node("Mul", [x, self.const(scope, 0.5, np.float32)], scope)
        erf = self.node("Erf", [self.node("Div", [x, self.const(scope, 1.4142135, np.float32)], scope)], scope)
        return self.node("Mul", [half, self.node("Add", [erf, self.const(scope, 1.0, np.float32)], scope)], scope)

    def attention(self, q, k, v, heads, head_dim, scope):
        """[B, L, H*D] q, k, v → softmax(q kᵀ / √D) v, heads split and merged as the exporter does."""
        def split(t):
            r = self.node("Reshape", [t, self.const(scope, [0, -1, heads, head_dim])], scope)
            return self.node("Transpose", [r], scope, perm=[0, 2, 1, 3])
        qh, kh, vh = split(q), split(k), split(v)
        kt = self.node("Transpose", [kh], scope, perm=[0, 1, 3, 2])
        s = self.node("Mul", [self.node("MatMul", [qh, kt], scope), self.const(scope, head_dim ** -0.5, np.float32)], scope)
        o = self.node("MatMul", [self.node("Softmax", [s], scope, axis=-1), vh], scope)
        o = self.node("Transpose", [o], scope, perm=[0, 2, 1, 3])
        return self.node("Reshape", [o, self.const(scope, [0, -1, heads * head_dim])], scope)

    def save(self, name, producer):
        self._data.close()
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name=producer)
        model.ir_version = 8
        path = os.path.join(self.folder, "model.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        onnx.checker.check_model(path)
        return path, len(self.nodes)


def generate(out, seed, build, graph_name, producer, config, report):
    """Builds a model into OUT.staging (build(g) adds its nodes), writes config.json beside it, renames the folder
    into place only once it is complete, and prints one JSON line: report + parameters, nodes, bytes, seconds."""
    import json
    import shutil
    import time

    stage = out + ".staging"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    t0 = time.time()
    g = StreamingGraph(stage, seed=seed)
    build(g)
    _, nodes = g.save(graph_name, producer)
    with open(os.path.join(stage, "config.json"), "w") as f:
        json.dump({**config, "random_weights_seed": seed}, f, indent=1)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(stage, out)
    sizes = {n: os.path.getsize(os.path.join(out, n)) for n in os.listdir(out)}
    print(json.dumps({"out_dir": out, **report, "parameters": g.params, "nodes": nodes, "bytes": sizes,
                      "seconds": round(time.time() - t0, 1)}))
