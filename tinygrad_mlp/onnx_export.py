"""``model.export("model.onnx", format="onnx")``: the model as an ONNX graph (inference mode).

The graph is built with the ``onnx`` package (opset 17): one graph input per
model input (batch dimension ``"batch"``), one output per model output, every
layer as a few standard operators with its weights as initializers, so any
ONNX runtime (``onnxruntime``, in the browser, on a phone) serves the model.
Training-only behaviour is dropped as ``predict`` drops it: ``Dropout`` and the
noise layers are identities, ``BatchNormalization`` uses its moving statistics.

Each layer becomes (``x`` its input):

* ``Dense``: ``MatMul(x, kernel)``, ``Add(bias)``, then the activation;
* ``BatchNormalization``: ``(x - moving_mean) * (1/sqrt(moving_var + eps)) * gamma + beta``;
* ``LayerNormalization``: ONNX's ``LayerNormalization`` over the last axis;
* activations: their ONNX operator (``Relu``, ``Sigmoid``, ``Softmax``, ``Elu``...) or
  the formula (``gelu = x * (1 + erf(x / sqrt 2)) / 2``, ``swish = x * sigmoid(x)``);
* merge layers: ``Sum``/``Sub``/``Mul``/``Max``/``Min``/``Concat``; nested models inline.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["export_onnx", "to_onnx"]

OPSET = 17


class _Graph:
    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, array: Any, base: str, dtype: Any = np.float32) -> str:
        name = self.name(base)
        arr = np.asarray(array, dtype=dtype)
        self.initializers.append(self.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str, **attrs: Any) -> str:
        out = self.name(base)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def _activation(g: _Graph, x: str, fn: Any, where: str) -> str:
    name = getattr(fn, "__name__", str(fn))
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "exponential": "Exp", "softsign": "Softsign"}  # fmt: skip
    if name == "linear":
        return x
    if name in simple:
        return g.op(simple[name], [x], name)
    if name == "softmax":
        return g.op("Softmax", [x], name, axis=-1)
    if name == "log_softmax":
        return g.op("LogSoftmax", [x], name, axis=-1)
    if name == "elu":
        return g.op("Elu", [x], name, alpha=1.0)
    if name == "selu":
        return g.op("Selu", [x], name, alpha=1.6732632423543772, gamma=1.0507009873554805)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], name, alpha=0.2)
    if name == "relu6":
        return g.op("Clip", [x, g.const(0.0, "min"), g.const(6.0, "max")], name)
    if name == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        return g.op("HardSigmoid", [x], name, alpha=1.0 / 6.0, beta=0.5)
    if name in ("swish", "silu"):
        return g.op("Mul", [x, g.op("Sigmoid", [x], "sigmoid")], name)
    if name == "mish":
        return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x], "softplus")], "tanh")], name)
    if name == "gelu":
        scaled = g.op("Div", [x, g.const(math.sqrt(2.0), "sqrt2")], "scaled")
        half = g.op("Mul", [g.op("Add", [g.op("Erf", [scaled], "erf"), g.const(1.0, "one")],
                                 "plus1"), g.const(0.5, "half")], "half")  # fmt: skip
        return g.op("Mul", [x, half], name)
    raise ValueError(f"{where}: the activation {name!r} has no ONNX form")


def _layer(g: _Graph, layer: Any, inputs: list[str]) -> list[str]:
    """Emit ``layer``'s operators on the named inputs; returns the output names."""
    from tinygrad_mlp import layers as L
    from tinygrad_mlp.models import Model

    where = f"cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX"
    x = inputs[0]
    if isinstance(layer, Model):
        return _model_body(g, layer, inputs)
    if isinstance(layer, L.Dense):
        y = g.op("MatMul", [x, g.const(layer.kernel.data, f"{layer.name}_kernel")], "matmul")
        if layer.bias is not None:
            y = g.op("Add", [y, g.const(layer.bias.data, f"{layer.name}_bias")], "bias_add")
        return [_activation(g, y, layer.activation, where)]
    if isinstance(layer, L.Activation):
        return [_activation(g, x, layer.activation, where)]
    if (
        isinstance(layer, (L.Dropout, L.GaussianNoise, L.GaussianDropout, L.Identity))
        or type(layer) is L.Layer
    ):
        return [g.op("Identity", [x], "identity")]
    if isinstance(layer, L.BatchNormalization):
        shape = layer._param_shape
        mean = layer.moving_mean.data.reshape(shape)
        inv = ((layer.moving_variance.data.reshape(shape) + layer.epsilon) ** -0.5).astype(
            np.float32
        )
        y = g.op("Sub", [x, g.const(mean, "bn_mean")], "bn_center")
        y = g.op("Mul", [y, g.const(inv, "bn_inv_std")], "bn_scale")
        if layer.scale:
            y = g.op("Mul", [y, g.const(layer.gamma.data.reshape(shape), "bn_gamma")], "bn_gamma")
        if layer.center:
            y = g.op("Add", [y, g.const(layer.beta.data.reshape(shape), "bn_beta")], "bn_beta")
        return [y]
    if isinstance(layer, L.LayerNormalization):
        shape = layer._param_shape[1:]
        if len(layer._axes) != 1 or layer._axes[0] != len(layer.input_shape) - 1:
            raise ValueError(f"{where}: only normalization over the last axis is exported")
        gamma = layer.gamma.data if layer.gamma is not None else np.ones(shape[-1:], np.float32)
        beta = layer.beta.data if layer.beta is not None else np.zeros(shape[-1:], np.float32)
        return [g.op("LayerNormalization", [x, g.const(np.reshape(gamma, -1), "ln_gamma"),
                                            g.const(np.reshape(beta, -1), "ln_beta")],
                     "layer_norm", axis=-1, epsilon=float(layer.epsilon))]  # fmt: skip
    if isinstance(layer, L.Normalization):
        mean, variance = layer._statistics()
        std = np.maximum(np.sqrt(variance), 1e-7).astype(np.float32)
        if layer.invert:
            y = g.op("Mul", [x, g.const(std, "norm_std")], "denorm_scale")
            return [g.op("Add", [y, g.const(mean, "norm_mean")], "denorm_shift")]
        y = g.op("Sub", [x, g.const(mean, "norm_mean")], "norm_center")
        return [g.op("Mul", [y, g.const(1.0 / std, "norm_inv_std")], "norm_scale")]
    if isinstance(layer, L.Flatten):
        return [g.op("Flatten", [x], "flatten", axis=1)]
    if isinstance(layer, L.Reshape):
        target = [0] + [int(d) for d in layer._resolved(layer.input_shape)]
        return [g.op("Reshape", [x, g.const(target, "shape", np.int64)], "reshape")]
    if isinstance(layer, L.Rescaling):
        y = g.op("Mul", [x, g.const(layer.scale, "scale")], "rescale")
        return [g.op("Add", [y, g.const(layer.offset, "offset")], "offset")]
    if isinstance(layer, L.ReLU):
        th = g.const(layer.threshold, "threshold")
        if layer.negative_slope or layer.threshold:
            below = g.op("Mul", [g.op("Sub", [x, th], "shifted"),
                                 g.const(layer.negative_slope, "slope")], "below")  # fmt: skip
            y = g.op("Where", [g.op("GreaterOrEqual", [x, th], "above"), x, below], "relu")
        else:
            y = g.op("Relu", [x], "relu")
        if layer.max_value is not None:
            y = g.op("Min", [y, g.const(layer.max_value, "max_value")], "capped")
        return [y]
    if isinstance(layer, L.LeakyReLU):
        return [g.op("LeakyRelu", [x], "leaky_relu", alpha=float(layer.negative_slope))]
    if isinstance(layer, L.PReLU):
        return [g.op("PRelu", [x, g.const(layer.alpha.data, "alpha")], "prelu")]
    if isinstance(layer, L.ELU):
        return [g.op("Elu", [x], "elu", alpha=float(layer.alpha))]
    if isinstance(layer, L.Softmax):
        return [g.op("Softmax", [x], "softmax", axis=int(layer.axis))]
    if isinstance(layer, L.Embedding):
        index = g.op("Cast", [x], "indices", to=7)  # int64
        return [g.op("Gather", [g.const(layer.embeddings.data, "embeddings"), index], "embed")]
    if isinstance(layer, L.Concatenate):
        return [g.op("Concat", inputs, "concat", axis=int(layer.axis))]
    merges = {L.Add: "Sum", L.Multiply: None, L.Maximum: "Max", L.Minimum: "Min"}
    for cls, op in merges.items():
        if isinstance(layer, cls):
            if op is None:  # Mul takes two inputs
                y = inputs[0]
                for other in inputs[1:]:
                    y = g.op("Mul", [y, other], "mul")
                return [y]
            return [g.op(op, inputs, op.lower())]
    if isinstance(layer, L.Subtract):
        return [g.op("Sub", inputs, "sub")]
    if isinstance(layer, L.Average):
        total = g.op("Sum", inputs, "sum")
        return [g.op("Div", [total, g.const(float(len(inputs)), "count")], "average")]
    if isinstance(layer, L.Lambda):
        raise ValueError(f"{where}: a Lambda's function is Python code, which ONNX cannot hold")
    raise ValueError(f"{where}: no ONNX form for this layer type")


def _model_body(g: _Graph, model: Any, inputs: list[str]) -> list[str]:
    from tinygrad_mlp.layers import InputLayer
    from tinygrad_mlp.models import Functional, Sequential
    from tinygrad_mlp.symbolic import flatten

    if isinstance(model, Sequential):
        x = inputs
        for layer in model.layers:
            x = _layer(g, layer, x)
        return x
    if isinstance(model, Functional):
        known = dict(zip(model._input_ids, inputs, strict=True))
        for node in model._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            args = [known[id(t)] for t in node.input_tensors]
            outs = _layer(g, node.layer, args)
            for t, name in zip(flatten(node.outputs), outs, strict=True):
                known[id(t)] = name
        return [known[i] for i in model._output_ids]
    raise ValueError(
        f"cannot export the subclassed model {type(model).__name__!r} to ONNX: its forward pass "
        "is Python code; rebuild it as a Sequential or functional Model"
    )


def to_onnx(model: Any, opset: int = OPSET) -> Any:
    """The ONNX ``ModelProto`` of ``model`` (checked by ``onnx.checker``)."""
    import onnx
    from onnx import TensorProto, helper

    model._require_built("export")
    g = _Graph()
    names, shapes, dtypes = model._input_specs()
    graph_inputs, input_names = [], []
    for name, shape, dtype in zip(names, shapes, dtypes, strict=True):
        dims = ["batch"] + [int(d) for d in shape[1:]]
        kind = TensorProto.FLOAT if np.dtype(dtype).kind == "f" else TensorProto.INT64
        graph_inputs.append(helper.make_tensor_value_info(name, kind, dims))
        input_names.append(name)
    outs = _model_body(g, model, input_names)
    graph_outputs = []
    for out_name, result, shape in zip(model._output_names(), outs, model._output_shapes(),
                                       strict=True):  # fmt: skip
        g.op("Identity", [result], "out")  # the output under the model's output name
        g.nodes[-1].output[0] = out_name
        g.nodes[-1].name = out_name
        dims = ["batch"] + [int(d) for d in shape[1:]]
        graph_outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, dims))
    graph = helper.make_graph(g.nodes, model.name, graph_inputs, graph_outputs, g.initializers)
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="tinygrad_mlp"
    )
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime releases of 2024 on
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model: Any, filepath: str | os.PathLike, opset: int = OPSET) -> None:
    """Write ``to_onnx(model)`` to ``filepath`` (atomically)."""
    from tinygrad_mlp.saving import _atomic_write

    data = to_onnx(model, opset).SerializeToString()
    _atomic_write(filepath, lambda f: f.write(data), True)
