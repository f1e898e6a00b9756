"""Back propagation written out: the chain rule for every weight, with its numbers.

* ``order(loss)`` lists the Values in the order ``loss.backward()`` visits them.
* ``trace(loss, learning_rate=None)`` explains ``dL/dw`` for every parameter
  ``w``, parameters in that same backward order. Where the graph is a network
  of neurons (``act(b + sum_j a_j * w_j)``, as the course builds it on scalar
  Values) it speaks the slides' language: output errors
  ``e_k = (y_hat_k - y_k) * y_hat_k (1 - y_hat_k)``, hidden errors
  ``e_j = g'(a_j) * sum_k w_jk e_k``, ``dL/dw_jk = e_k * a_j``, and with a learning
  rate ``new w = w - lr * dL/dw`` written out in full. Anywhere else it writes
  ``dL/dw`` as the sum over paths of the product of the local derivatives along
  each path (for tensors: the path and the gradient reaching ``w``).
* ``trace(model, x=..., y=...)`` does the same for a ``Sequential`` of ``Dense``
  layers on one sample, building the network on scalar Values.

The result prints as text and displays as a table in Jupyter. Computing it
never touches any ``.grad``.

* ``step_through(loss, to_file="backprop.html")`` writes an offline page that
  replays the forward pass node by node, then the backward pass in the
  engine's order with every chain-rule product.
* ``training_replay(model, x, y, epochs=30, to_file="training.html")`` writes
  an offline page replaying a 2-D classifier's training epoch by epoch.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Value, _backprop, _topological_order
from tinygrad_mlp.pages import step_through, training_replay

__all__ = ["order", "trace", "Trace", "Step", "step_through", "training_replay"]

# activation op -> (the derivative in the slides' notation, its value from out)
_ACTIVATIONS = {
    "sigmoid": ("{a} (1 - {a})", lambda a: a * (1.0 - a)),
    "tanh": ("(1 - {a}^2)", lambda a: 1.0 - a * a),
    "relu": ("[{a} > 0]", lambda a: 1.0 if a > 0 else 0.0),
}
_MAX_PATHS = 6


def _num(x: Any) -> str:
    """Four significant digits, the same everywhere (0.8176, 0.01781, 0.5, 1)."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return repr(x) if not math.isfinite(x) else "0"
    text = f"{x:.4g}"
    return text


def order(loss: Value) -> list[Value]:
    """The Values in the order ``loss.backward()`` processes them: ``loss`` first,
    and every Value only after all the Values computed from it."""
    return list(reversed(_topological_order(loss)))


@dataclass
class Step:
    """One parameter's part of the trace: its gradient and how it comes about."""

    name: str
    value: Any
    gradient: Any
    lines: list[str] = field(default_factory=list)
    new_value: Any = None


@dataclass
class Trace:
    """The chain rule for every parameter; ``str()`` is the text, Jupyter shows a table."""

    steps: list[Step]
    learning_rate: float | None
    header: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        out = list(self.header)
        for step in self.steps:
            out.append(f"{step.name} = {_fmt_value(step.value)}")
            out.extend(f"  {line}" for line in step.lines)
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("parameter", "value", "dL/dw", "chain rule"))
        if self.learning_rate is not None:
            head += "<th>new value</th>"
        rows = []
        for s in self.steps:
            cells = [
                html.escape(s.name),
                html.escape(_fmt_value(s.value)),
                html.escape(_fmt_value(s.gradient)),
                "<br>".join(html.escape(line) for line in s.lines),
            ]
            if self.learning_rate is not None:
                cells.append(html.escape(_fmt_value(s.new_value)))
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        caption = "<br>".join(html.escape(h) for h in self.header)
        return f"<table><caption>{caption}</caption><tr>{head}</tr>{''.join(rows)}</table>"

    def step(self, name: str) -> Step:
        """The step of the parameter called ``name``."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"no parameter {name!r}; the parameters are {[s.name for s in self.steps]}")


def _fmt_value(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, np.ndarray) and x.size > 1:
        return np.array2string(x, precision=4, separator=", ", max_line_width=10**6)
    return _num(np.asarray(x).reshape(-1)[0] if isinstance(x, np.ndarray) else x)


# ----------------------------------------------------------------------------
# the graph, its gradients and its neurons


def _gradients(loss: Value) -> tuple[list[Value], dict[Value, Any]]:
    """Backward order and d(loss)/d(node) for every node that needs one, no .grad touched."""
    nodes = loss._prepare(None)
    seed = loss._seed(None, False)
    try:
        _backprop(loss, nodes, seed, False)
        grads = {n: n._acc for n in nodes if n._acc is not None}
    finally:
        for n in nodes:
            n._acc = None
    return list(reversed(nodes)), grads


def _children(nodes: list[Value]) -> dict[Value, list[Value]]:
    kids: dict[Value, list[Value]] = {n: [] for n in nodes}
    for n in nodes:
        for p in n._parents:
            kids.setdefault(p, []).append(n)
    return kids


@dataclass
class _Neuron:
    out: Value  # the activation's result a = g(z)
    z: Value  # the pre-activation b + sum a_j w_j
    act: str
    name: str


def _neuron_above(node: Value, kids: dict[Value, list[Value]]) -> _Neuron | None:
    """The neuron whose pre-activation sum ``node`` feeds (through ``+`` only), if any."""
    while True:
        up = kids.get(node, [])
        if len(up) != 1:
            return None
        parent, node = node, up[0]
        if node._op == "+":
            continue
        if node._op in _ACTIVATIONS:
            return _Neuron(node, parent, node._op, node.label)
        return None


def _product_input(w: Value, kids: dict[Value, list[Value]]) -> tuple[Value, Value] | None:
    """For a weight used as ``a * w``: (that product, the input a)."""
    products = [k for k in kids.get(w, []) if k._op == "*"]
    if len(products) != 1 or len(kids[w]) != 1:
        return None
    m = products[0]
    a, b = m._parents
    return m, (b if a is w else a)


class _Network:
    """Neurons found in a scalar graph, named, with their errors e = dL/dz."""

    def __init__(self, loss: Value, nodes: list[Value], grads: dict, kids: dict) -> None:
        self.loss, self.grads, self.kids = loss, grads, kids
        self.names: dict[Value, str] = {}
        self.neurons: dict[Value, _Neuron] = {}
        for n in nodes:
            if n._op in _ACTIVATIONS and n._parents and n._parents[0]._op == "+":
                self.neurons[n] = _Neuron(n, n._parents[0], n._op, n.label)
        outputs = [n for n in self.neurons if not self._feeds_neurons(n)]
        for k, n in enumerate(reversed(outputs)):
            self.names[n] = n.label or f"y_hat{k + 1}"
        hidden = [n for n in self.neurons if n not in self.names]
        for k, n in enumerate(reversed(hidden)):
            self.names[n] = n.label or f"a{k + 1}"

    def _feeds_neurons(self, n: Value) -> bool:
        for k in self.kids.get(n, []):
            if k._op == "*":
                other = k._parents[1] if k._parents[0] is n else k._parents[0]
                if not other._parents and _neuron_above(k, self.kids) is not None:
                    return True
        return False

    def name(self, v: Value) -> str:
        return self.names.get(v) or v.label or _num(v.data)

    def error(self, neuron: _Neuron) -> tuple[float, str]:
        """e = dL/dz for the neuron, and how the slides write it, with numbers."""
        out, z = neuron.out, neuron.z
        e = float(self.grads[z])
        a = self.name(out)
        d_text, d_fn = _ACTIVATIONS[neuron.act]
        slope = d_fn(out.data)
        slope_text = d_text.format(a=a)
        slope_nums = d_text.format(a=_num(out.data)).replace(" (", "*(")
        terms = self._outgoing(out)
        if terms:  # hidden: e_j = g'(a_j) * sum_k w_jk e_k
            parts = [f"{w.label or 'w'} e_{self.name(n.out)}" for w, n in terms]
            nums = [f"{_num(w.data)}*{_num(self.error(n)[0])}" for w, n in terms]
            return e, (
                f"e_{a} = {slope_text} * ({' + '.join(parts)}) = "
                f"{slope_nums}*({' + '.join(nums)}) = {_num(e)}"
            )
        target = self._target(out)
        g_out = float(self.grads[out])
        if target is not None and abs(g_out - (out.data - target)) <= 1e-12 * max(1.0, abs(g_out)):
            return e, (
                f"e_{a} = ({a} - y) * {slope_text} = "
                f"({_num(out.data)} - {_num(target)}) * {slope_nums} = {_num(e)}"
            )
        return e, f"e_{a} = dL/d{a} * {slope_text} = {_num(g_out)} * {_num(slope)} = {_num(e)}"

    def _outgoing(self, out: Value) -> list[tuple[Value, _Neuron]]:
        terms = []
        for k in self.kids.get(out, []):
            if k._op != "*":
                continue
            w = k._parents[1] if k._parents[0] is out else k._parents[0]
            n = _neuron_above(k, self.kids)
            if n is not None and not w._parents:
                terms.append((w, self.neurons.get(n.out, n)))
        return terms

    def _target(self, out: Value) -> float | None:
        """y where the graph computes y_hat - y (``y_hat + (-y)``) right after the neuron."""
        for k in self.kids.get(out, []):
            if k._op in ("+", "-"):  # y_hat - y is recorded as y_hat + (-y), named "-"
                other = k._parents[1] if k._parents[0] is out else k._parents[0]
                if not other.requires_grad and not other._parents and other.is_scalar:
                    return -float(other.data)
        return None

    def explain(self, w: Value, lr: float | None, name: str) -> list[str] | None:
        """The slides' lines for a weight or bias of a neuron, or None if it is not one."""
        found = _product_input(w, self.kids)
        if found is not None:
            m, a = found
            neuron = _neuron_above(m, self.kids)
            if neuron is None:
                return None
            neuron = self.neurons.get(neuron.out, neuron)
            e, e_line = self.error(neuron)
            a_name = self.name(a)
            lines = [
                f"{name}: {a_name} -> {self.name(neuron.out)}",
                e_line,
                f"dL/d{name} = e_{self.name(neuron.out)} * {a_name} = {_num(e)} * {_num(a.data)} "
                f"= {_num(e * a.data)}",
            ]
            if lr is not None:
                new = w.data - lr * e * a.data
                lines.append(
                    f"new {name} = {name} - lr * dL/d{name} = {_num(w.data)} - {_num(lr)}*"
                    f"{self._expanded_error(neuron)}*{_num(a.data)} = {_num(new)}"
                )
            return lines
        neuron = _neuron_above(w, self.kids)
        if neuron is None:
            return None
        neuron = self.neurons.get(neuron.out, neuron)
        e, e_line = self.error(neuron)
        lines = [
            f"{name}: the bias of {self.name(neuron.out)}",
            e_line,
            f"dL/d{name} = e = {_num(e)}",
        ]
        if lr is not None:
            lines.append(
                f"new {name} = {_num(w.data)} - {_num(lr)}*{_num(e)} = {_num(w.data - lr * e)}"
            )
        return lines

    def _expanded_error(self, neuron: _Neuron) -> str:
        """The output error as the slides expand it: (y_hat-y)*(y_hat*(1-y_hat))."""
        out = neuron.out
        target = self._target(out)
        if not self._outgoing(out) and target is not None and neuron.act == "sigmoid":
            y_hat = _num(out.data)
            return f"({y_hat}-{_num(target)})*({y_hat}*(1-{y_hat}))"
        return _num(self.error(neuron)[0])


# ----------------------------------------------------------------------------
# the general case: the chain rule along every path


def _local_derivatives(child: Value) -> list[Any]:
    """d child / d parent for each parent of a scalar op (the rule run with g = 1)."""
    parents = child._parents
    grads = child._backward(1.0, child.data, child._ctx, *[p.data for p in parents])
    return [0.0 if g is None else g for g in grads]


def _paths(w: Value, loss: Value, kids: dict) -> list[list[tuple[Value, Value, int]]]:
    """Edges (parent, child, index of parent) of the paths from ``w`` up to ``loss``."""
    found: list[list[tuple[Value, Value, int]]] = []
    stack: list[tuple[Value, list]] = [(w, [])]
    while stack and len(found) <= _MAX_PATHS:
        node, path = stack.pop()
        if node is loss:
            found.append(path)
            continue
        for child in kids.get(node, []):
            for i, p in enumerate(child._parents):
                if p is node:
                    stack.append((child, path + [(node, child, i)]))
    return found


def _node_name(v: Value) -> str:
    return v.label or (f"[{v._op}]" if v._op else _num(v.data))


def _path_lines(w: Value, loss: Value, kids: dict, grad: Any, name: str) -> list[str]:
    paths = _paths(w, loss, kids)
    if not w.is_scalar:
        lines = []
        for path in paths[:_MAX_PATHS]:
            ops = " <- ".join(f"[{child._op}]" for _, child, _ in reversed(path))
            lines.append(f"path: L <- {ops} <- {name}")
        lines.append(f"dL/d{name} = {_fmt_value(np.asarray(grad))}")
        return lines
    lines, total = [], 0.0
    for path in paths[:_MAX_PATHS]:
        factors = [_local_derivatives(child)[i] for _, child, i in path]
        product = math.prod(float(f) for f in factors)
        total += product
        ops = " * ".join(
            f"d{_node_name(child)}/d{_node_name(parent)}" for parent, child, _ in reversed(path)
        )
        lines.append(f"{ops} = {' * '.join(_num(f) for f in reversed(factors))} = {_num(product)}")
    if len(paths) > _MAX_PATHS:
        lines.append(f"... and more paths (the first {_MAX_PATHS} are shown)")
    elif len(paths) > 1:
        lines.append(f"dL/d{name} = the sum over the {len(paths)} paths = {_num(total)}")
    return lines


# ----------------------------------------------------------------------------
# the public entry point


def trace(
    loss: Any,
    learning_rate: float | None = None,
    x: Any = None,
    y: Any = None,
) -> Trace:
    """The chain rule for every parameter of ``loss`` (a one-element Value), with numbers.

    ``loss`` may also be a ``Sequential`` of ``Dense`` layers: give one sample
    ``x`` and its target ``y``, and the trace follows the model's loss (the
    course's ``1/2 sum (y_hat - y)^2`` when it is not compiled, its mean
    squared error when it is; with 2 outputs they are the same).
    """
    if not isinstance(loss, Value):
        return _trace_model(loss, x, y, learning_rate)
    if loss.size != 1:
        raise ValueError(f"trace needs a one-element loss, received shape {loss.shape}")
    if learning_rate is not None and not (
        isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate)
    ):
        raise ValueError(f"learning_rate must be a finite number, received {learning_rate!r}")
    nodes, grads = _gradients(loss)
    kids = _children(nodes)
    params = [n for n in nodes if not n._parents and n.requires_grad]
    network = _Network(loss, nodes, grads, kids) if loss.is_scalar else None
    steps = []
    for k, p in enumerate(params):
        name = p.label or f"w{k + 1}"  # a name for the text; the Value is left as it is
        g = grads.get(p, 0.0)
        lines = network.explain(p, learning_rate, name) if network is not None else None
        if lines is None:
            lines = _path_lines(p, loss, kids, g, name)
            if learning_rate is not None:
                new = np.asarray(p.data) - learning_rate * np.asarray(g)
                lines.append(
                    f"new {name} = {name} - lr * dL/d{name} = {_fmt_value(p.data)} - "
                    f"{_num(learning_rate)} * {_fmt_value(np.asarray(g))} = {_fmt_value(new)}"
                )
        new_value = (
            None if learning_rate is None else np.asarray(p.data) - learning_rate * np.asarray(g)
        )
        if p.is_scalar and new_value is not None:
            new_value = float(new_value)
        steps.append(Step(name, p.data, g, lines, new_value))
    header = [
        f"L = {_fmt_value(loss.data)}; parameters in the order backward() reaches them"
        + ("" if learning_rate is None else f"; learning rate {_num(learning_rate)}")
    ]
    return Trace(steps, learning_rate, header)


def _trace_model(model: Any, x: Any, y: Any, learning_rate: float | None) -> Trace:
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            f"trace takes a loss Value or a Sequential model, received {type(model).__name__}"
        )
    if x is None or y is None:
        raise ValueError("trace(model, ...) needs one sample: trace(model, x=..., y=...)")
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    a = [Value(float(v), requires_grad=False, label=f"x{i + 1}") for i, v in enumerate(x)]
    for number, layer in enumerate(layers, start=1):
        weights = layer.get_weights()
        if type(layer).__name__ != "Dense" or len(weights) not in (1, 2):
            raise ValueError(
                "trace(model) follows Dense layers; "
                f"layer {layer.name!r} is a {type(layer).__name__}"
            )
        act = getattr(layer.activation, "__name__", "linear")
        if act not in _ACTIVATIONS and act != "linear":
            raise ValueError(
                f"trace(model) knows the activations {sorted(_ACTIVATIONS)} and linear; "
                f"layer {layer.name!r} uses {act!r}"
            )
        kernel = weights[0]
        if kernel.shape[0] != len(a):
            raise ValueError(
                f"layer {layer.name!r} expects {kernel.shape[0]} inputs, received {len(a)}"
            )
        bias = weights[1] if len(weights) == 2 else np.zeros(kernel.shape[1])
        last = number == len(layers)
        out = []
        for j in range(kernel.shape[1]):
            z = Value(float(bias[j]), label=f"b{number}_{j + 1}")
            for i, ai in enumerate(a):
                z = ai * Value(float(kernel[i, j]), label=f"w{number}_{i + 1}{j + 1}") + z
            unit = z if act == "linear" else getattr(z, act)()
            unit.label = f"y_hat{j + 1}" if last else f"a{number}_{j + 1}"
            out.append(unit)
        a = out
    if len(a) != len(y):
        raise ValueError(f"the model has {len(a)} outputs, received a target of {len(y)} values")
    squares = [(ak - float(yk)) ** 2 for ak, yk in zip(a, y, strict=True)]
    compiled = getattr(model, "loss", None) is not None
    scale = 1.0 / len(a) if compiled else 0.5
    loss = scale * sum(squares[1:], squares[0])
    loss.label = "L"
    result = trace(loss, learning_rate)
    what = "mean squared error" if compiled else "1/2 sum (y_hat - y)^2"
    result.header.insert(0, f"{type(model).__name__} on one sample, L = {what}")
    return result
