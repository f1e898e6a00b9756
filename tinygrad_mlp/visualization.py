"""Pictures of graphs and models: backprop DAGs, Keras-style model plots, neuron diagrams.

* ``draw_graph(value)`` draws the computational graph that ends at ``value``, in
  the style of micrograd's ``draw_dot``: one record per Value (label, data,
  grad) and one small ellipse per operation, coloured by gradient magnitude.
* ``plot_model(model)`` draws the architecture like ``keras.utils.plot_model``.
* ``plot_network(model)`` draws every neuron and every weight of a small MLP:
  the picture a course draws on the board.
* ``render(dot, to_file)`` writes any ``graphviz.Digraph`` to a file, choosing
  the format from the extension and the renderer from what is installed (the
  system Graphviz ``dot`` or the self-contained ``graphviz-pure`` binary).

Every function returns a ``graphviz.Digraph`` (a subclass that renders inline in
Jupyter with whichever renderer is present). Output is deterministic: nodes are
numbered in traversal order, never by ``id()``, so the same graph gives the same
DOT text.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from typing import Any

import graphviz
import numpy as np

from tinygrad_mlp.engine import Value

__all__ = ["Graph", "draw_graph", "plot_model", "plot_network", "render", "find_renderer"]

# ----------------------------------------------------------------------------
# rendering

_PURE_FORMATS = ("png", "svg", "jpg", "jpeg")  # what graphviz-pure can write
_SYSTEM_ONLY_FORMATS = ("pdf", "ps", "eps", "gif", "bmp", "tif", "tiff", "webp")
_SOURCE_EXTENSIONS = ("dot", "gv")
_INSTALL_HINT = (
    "install the self-contained renderer with `pip install graphviz-pure`, "
    "or install Graphviz (https://graphviz.org/download/, e.g. `apt-get install graphviz`) "
    "so that `dot` is on PATH"
)


def find_renderer(format: str = "png") -> str:
    """Path of a program that turns DOT text into ``format``.

    Order: the system Graphviz ``dot`` on PATH; else ``graphviz-pure`` next to
    the running Python (the virtualenv's ``bin``, even when it is not activated);
    else ``graphviz-pure`` on PATH. Raises ``RuntimeError`` saying what to install.
    """
    fmt = format.lower()
    system_dot = shutil.which("dot")
    if system_dot:
        return system_dot
    if fmt in _SYSTEM_ONLY_FORMATS or fmt not in _PURE_FORMATS:
        found = _find_pure()
        extra = (
            f" (graphviz-pure was found at {found}, but it has no {fmt!r} output)" if found else ""
        )
        raise RuntimeError(
            f"writing {fmt!r} needs the system Graphviz `dot` program, which was not found "
            f"on PATH{extra}. Install Graphviz (https://graphviz.org/download/), or choose "
            f"one of the formats graphviz-pure writes: {', '.join(_PURE_FORMATS)}, "
            f"or '.dot'/'.gv' for the DOT source"
        )
    found = _find_pure()
    if found:
        return found
    raise RuntimeError(f"no Graphviz renderer found to write {fmt!r}: {_INSTALL_HINT}")


def _find_pure() -> str | None:
    names = ("graphviz-pure.exe", "graphviz-pure") if os.name == "nt" else ("graphviz-pure",)
    # not resolving symlinks on purpose: a venv's python is a link into the base install
    bindir = os.path.dirname(sys.executable)
    for name in names:
        candidate = os.path.join(bindir, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("graphviz-pure")


def _run_renderer(source: str, fmt: str, args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    exe = find_renderer(fmt)
    cmd = [exe, f"-T{fmt}", *args]
    proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True)
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(
            f"{os.path.basename(exe)} failed (exit code {proc.returncode}) rendering "
            f"{fmt!r}: {stderr or 'no error message'}"
        )
    return proc


def pipe(dot: graphviz.Digraph | str, format: str = "svg") -> bytes:
    """Render DOT (a Digraph or its source text) to ``format`` and return the bytes."""
    source = dot if isinstance(dot, str) else dot.source
    return _run_renderer(source, format.lower()).stdout


def render(dot: graphviz.Digraph | str, to_file: str | os.PathLike, dpi: int | None = None) -> str:
    """Write ``dot`` to ``to_file`` in the format its extension names; return the path.

    ``.dot``/``.gv`` write the DOT source (no renderer needed); ``.png``, ``.svg``,
    ``.jpg`` use the system ``dot`` or graphviz-pure; ``.pdf`` and the other
    Graphviz formats need the system ``dot``.
    """
    path = os.fspath(to_file)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if not ext:
        raise ValueError(
            f"cannot tell the output format of {path!r}: give the file an extension "
            f"(.png, .svg, .jpg, .pdf, .dot or .gv)"
        )
    source = dot if isinstance(dot, str) else dot.source
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    if ext in _SOURCE_EXTENSIONS:
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return path
    fmt = "jpg" if ext == "jpeg" else ext
    args = [f"-Gdpi={int(dpi)}"] if dpi and fmt in ("png", "jpg", "gif", "bmp") else []
    _run_renderer(source, fmt, [*args, "-o", path])
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise RuntimeError(f"the renderer reported success but wrote nothing to {path!r}")
    return path


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` that renders with ``dot`` or graphviz-pure.

    Jupyter displays it inline (``_repr_mimebundle_``/``_repr_svg_``) even when
    only graphviz-pure is installed; ``.save_as(path)`` writes by extension.
    """

    def _repr_image_svg_xml(self) -> str:
        return pipe(self, "svg").decode("utf-8")

    def _repr_image_png(self) -> bytes:
        return pipe(self, "png")

    def _repr_image_jpeg(self) -> bytes:
        return pipe(self, "jpg")

    def _repr_svg_(self) -> str:
        return self._repr_image_svg_xml()

    def save_as(self, to_file: str | os.PathLike, dpi: int | None = None) -> str:
        """Write the picture to ``to_file`` (format from the extension)."""
        return render(self, to_file, dpi=dpi)


def _finish(dot: Graph, to_file: Any, format: str | None = None, dpi: int | None = None) -> Graph:
    if to_file is not None:
        if format is not None and not os.path.splitext(os.fspath(to_file))[1]:
            to_file = f"{os.fspath(to_file)}.{format.lstrip('.')}"
        render(dot, to_file, dpi=dpi)
    return dot


# ----------------------------------------------------------------------------
# colours

_PALE = (0xFF, 0xF7, 0xF0)  # small gradients
_STRONG = (0xE6, 0x55, 0x0D)  # large positive gradients (orange)
_STRONG_NEGATIVE = (0x1F, 0x6F, 0xC4)  # large negative gradients (blue)
_NO_GRAD = "#ffffff"
_ZERO_GRAD = "#e8e8e8"


def _hex(rgb: Sequence[float]) -> str:
    """Always six hex digits (Debian's Graphviz 2.43 rejects the short ``#rgb`` form)."""
    return "#" + "".join(f"{max(0, min(255, int(round(c)))):02x}" for c in rgb)


def _mix(a: Sequence[float], b: Sequence[float], t: float) -> str:
    t = max(0.0, min(1.0, t))
    return _hex([x + (y - x) * t for x, y in zip(a, b, strict=True)])


# ----------------------------------------------------------------------------
# draw_graph

_RECORD_SPECIALS = str.maketrans({c: "\\" + c for c in '{}|<>"'})


def _esc_record(text: str) -> str:
    return text.replace("\\", "\\\\").translate(_RECORD_SPECIALS)


def _fmt(x: float) -> str:
    """Four significant digits."""
    return f"{float(x):#.4g}"


def _grad_array(v: Value) -> Any:
    g = v.grad
    if isinstance(g, Value):
        g = g.data
    return g


def _grad_magnitude(v: Value) -> float | None:
    """|grad| for scalars, the Euclidean norm for tensors; ``None`` when there is none."""
    g = _grad_array(v)
    if g is None or not v.requires_grad:
        return None
    if isinstance(g, float):
        return abs(g)
    return float(np.linalg.norm(np.asarray(g, dtype=np.float64)))


def _preview(a: np.ndarray) -> str:
    flat = np.asarray(a).ravel()
    return "[" + " ".join(_fmt(x) for x in flat) + "]"


def _value_label(
    v: Value,
    show_data: bool,
    show_grad: bool,
    backward_ran: bool,
    preview_size: int,
    negated: bool = False,
) -> str:
    cells = []
    if v.label:
        cells.append(_esc_record(v.label))
    scalar = isinstance(v.data, float)
    if negated:  # the constant b of a - b, recorded as a + (-b): show b
        v = Value(-np.asarray(v.data) if not scalar else -v.data, requires_grad=False)
    if not scalar:
        shape = (
            "(" + ", ".join(str(n) for n in v.data.shape) + ("," if v.data.ndim == 1 else "") + ")"
        )
        cells.append(_esc_record(f"{shape} {v.data.dtype}"))
    if show_data:
        if scalar:
            cells.append(f"data {_fmt(v.data)}")
        elif v.data.size <= preview_size:
            cells.append(_esc_record(f"data {_preview(v.data)}"))
        else:
            norm = float(np.linalg.norm(np.asarray(v.data, dtype=np.float64)))
            cells.append(f"data norm {_fmt(norm)}")
    if show_grad:
        g = _grad_array(v)
        if not backward_ran or not v.requires_grad or g is None:
            cells.append("grad —")
        elif scalar:
            cells.append(f"grad {_fmt(g)}")
        elif np.size(g) <= preview_size:
            cells.append(_esc_record(f"grad {_preview(g)}"))
        else:
            cells.append(f"grad norm {_fmt(_grad_magnitude(v))}")
    return "{ " + " | ".join(cells) + " }" if cells else " "


def _backward_ran(root: Value) -> bool:
    """A backward pass from ``root`` leaves it a nonzero gradient (1 by default)."""
    g = _grad_array(root)
    if g is None or not root.requires_grad:
        return False
    if isinstance(g, float):
        return g != 0.0
    return bool(np.any(np.asarray(g) != 0))


def _signed(v: Value) -> float | None:
    """The gradient's size with its sign: |g| (or the norm) times the sign of its sum."""
    m = _grad_magnitude(v)
    if m is None:
        return None
    total = float(np.sum(_grad_array(v)))
    return -m if total < 0 else m


def _auto_rankdir(shown: list[Value]) -> str:
    """Left to right unless that makes a strip much wider than tall: then top to bottom.

    Width is the longest path from the output (a Value and its op per step),
    height the most Values at one distance; LR beyond an aspect of 6 turns TB.
    """
    ids = {id(v) for v in shown}
    dist = {id(shown[0]): 0}
    changed = True
    for _ in range(len(shown)):  # longest distance from the output (a DAG: it settles)
        if not changed:
            break
        changed = False
        for v in shown:
            d = dist.get(id(v))
            if d is None:
                continue
            for p in v._parents:
                if id(p) in ids and dist.get(id(p), -1) < d + 1:
                    dist[id(p)] = d + 1
                    changed = True
    per_level: dict[int, int] = {}
    for d in dist.values():
        per_level[d] = per_level.get(d, 0) + 1
    wide = 2 * (max(dist.values()) + 1) * 1.1  # inches: a record ~1.8 wide, an op ~0.4
    tall = max(per_level.values()) * 0.55
    return "TB" if wide > 6.0 * tall else "LR"


def draw_graph(
    value: Value,
    rankdir: str | None = None,
    show_data: bool = True,
    show_grad: bool = True,
    max_nodes: int = 200,
    color_by_grad: bool = True,
    format: str | None = None,
    to_file: str | os.PathLike | None = None,
) -> Graph:
    """Draw the computational graph that ends at ``value`` (micrograd's ``draw_dot``).

    Each Value is a record ``{ label | data 0.8176 | grad 0.1491 }`` (scalars, 4
    significant digits) or ``{ label | (32, 16) float32 | data norm .. | grad norm .. }``
    (tensors; tensors of at most 4 elements show their entries). Each operation
    is a small ellipse with its symbol, with edges input -> op -> output.
    Before ``backward()`` gradients show as ``grad —``. With ``color_by_grad``
    the fill is orange for a positive gradient and blue for a negative one, from
    pale to strong with log10 |grad| (vanishing and exploding gradients stand
    out); a legend gives the scale and says that a thick border marks a
    parameter. A subtraction ``a - b`` is drawn as one ``-`` op with both inputs
    (it is recorded as ``a + (-b)``). The layout runs left to right, or top to
    bottom when that would be a strip much wider than tall (``rankdir`` forces
    one). Beyond ``max_nodes``
    Values, those farthest from ``value`` (breadth-first) collapse into one
    ``... N more nodes`` node. ``to_file`` writes the picture (format from its
    extension, or from ``format`` when it has none).

    >>> x = Value(2.0, label="x"); y = (x * x).tanh(); y.backward()
    >>> dot = draw_graph(y)   # 2 records for x, x*x ... plus the tanh output
    """
    if not isinstance(value, Value):
        raise TypeError(f"draw_graph expects a Value, received {type(value).__name__}")
    if rankdir is not None and rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'TB', 'RL', 'BT', received {rankdir!r}")
    if int(max_nodes) < 1:
        raise ValueError(f"max_nodes must be at least 1, received {max_nodes}")
    max_nodes = int(max_nodes)

    # breadth-first from the output: index = distance rank, deterministic
    index: dict[int, int] = {id(value): 0}
    nodes: list[Value] = [value]
    queue = deque([value])
    while queue:
        v = queue.popleft()
        for p in v._parents:
            if id(p) not in index:
                index[id(p)] = len(nodes)
                nodes.append(p)
                queue.append(p)
    shown = nodes[:max_nodes]
    hidden = len(nodes) - len(shown)

    # a - b is recorded as a + (-b): draw one "-" op with b itself as its second input
    hidden_neg: dict[int, Value] = {}  # id of a neg node -> the Value it negates
    negated: set[int] = set()  # constants of a - 0.7, shown as 0.7
    for v in shown:
        if v._op == "-" and len(v._parents) == 2:
            second = v._parents[1]
            if second._op == "neg" and len(second._parents) == 1:
                hidden_neg[id(second)] = second._parents[0]
            elif not second._parents and not second.requires_grad:
                negated.add(id(second))
    consumers: dict[int, int] = {}
    for v in shown:
        for p in v._parents:
            consumers[id(p)] = consumers.get(id(p), 0) + 1
    skip = {k for k in hidden_neg if consumers.get(k) == 1}  # neg nodes drawn into their "-"
    if rankdir is None:
        rankdir = _auto_rankdir(shown)

    backward_ran = _backward_ran(value)
    mags = [_signed(v) for v in shown] if (backward_ran and color_by_grad) else []
    positive = [abs(m) for m in mags if m is not None and m != 0 and math.isfinite(m)]
    lo = math.log10(min(positive)) if positive else 0.0
    hi = math.log10(max(positive)) if positive else 0.0

    def fill(m: float | None) -> str:
        if m is None:
            return _NO_GRAD
        if m == 0:
            return _ZERO_GRAD
        strong = _STRONG if m > 0 else _STRONG_NEGATIVE
        if not math.isfinite(m):
            return _hex(strong)
        t = 1.0 if hi == lo else (math.log10(abs(m)) - lo) / (hi - lo)
        return _mix(_PALE, strong, t)

    dot = Graph(
        name="graph",
        graph_attr={"rankdir": rankdir},
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
    )
    for i, v in enumerate(shown):
        if id(v) in skip:
            continue  # drawn as the second input of its "-"
        attrs = {"shape": "record", "style": "filled"}
        attrs["fillcolor"] = fill(mags[i]) if mags else _NO_GRAD
        if not v._parents and v.requires_grad:
            attrs["penwidth"] = "2.5"  # a parameter (a leaf that learns)
        label = _value_label(v, show_data, show_grad, backward_ran, 4, negated=id(v) in negated)
        dot.node(f"v{i}", label, **attrs)
        if v._parents:
            dot.node(f"op{i}", _esc_op(v._op), shape="ellipse", width="0.3", height="0.3")
            dot.edge(f"op{i}", f"v{i}")
    more_edges: set[str] = set()
    for i, v in enumerate(shown):
        if id(v) in skip:
            continue
        for p in v._parents:
            if id(p) in skip:
                p = hidden_neg[id(p)]  # a - b: the edge comes from b itself
            j = index[id(p)]
            if j < max_nodes:
                dot.edge(f"v{j}", f"op{i}")
            elif f"op{i}" not in more_edges:
                more_edges.add(f"op{i}")
                dot.edge("more", f"op{i}", style="dashed")
    if hidden:
        dot.node(
            "more",
            f"... {hidden} more node{'s' if hidden != 1 else ''}",
            shape="box",
            style="dashed,rounded",
        )
    if positive:
        _add_legend(dot, lo, hi, fill)
    return _finish(dot, to_file, format)


def _esc_op(op: str) -> str:
    return op.replace("\\", "\\\\").replace('"', '\\"') or "?"


def _add_legend(dot: Graph, lo: float, hi: float, fill: Any) -> None:
    """Swatches from the smallest to the largest |grad| shown, for each sign, and the border."""
    steps = 5 if hi > lo else 1
    rows = []
    for sign, name in ((1.0, "grad &gt; 0"), (-1.0, "grad &lt; 0")):
        cells = [f"<td>{name}</td>"]
        for k in range(steps):
            m = 10.0 ** (lo + (hi - lo) * k / max(steps - 1, 1))
            cells.append(f'<td bgcolor="{fill(sign * m)}">{_fmt(sign * m)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    width = steps + 1
    rows.append(
        f'<tr><td>grad = 0</td><td bgcolor="{_ZERO_GRAD}">0</td>'
        f'<td colspan="{max(width - 2, 1)}" bgcolor="{_NO_GRAD}">no gradient (a constant '
        "or data)</td></tr>"
    )
    rows.append(
        f'<tr><td colspan="{width}" align="left">a <b>thick border</b> marks a parameter: '
        "a leaf that learns</td></tr>"
    )
    html = (
        '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
        f'<tr><td colspan="{width}"><b>fill: the gradient (log scale of |grad|)</b></td></tr>'
        f"{''.join(rows)}</table>>"
    )
    dot.node("legend", html, shape="plaintext")


# ----------------------------------------------------------------------------
# plot_model

_HEADER_COLOR = "#d4e4f7"
_TRAINABLE_COLORS = {True: "#c8e6c9", False: "#ffcdd2"}


def _html(text: Any) -> str:
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        return ", ".join(_shape_text(s) for s in shape)
    shape = tuple(shape)
    inner = ", ".join("None" if n is None else str(n) for n in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _with_batch(shape: Any) -> tuple | None:
    if shape is None:
        return None
    return (None, *tuple(shape))


def _layer_input_shape(layer: Any) -> tuple | None:
    """The first layer's input shape with the batch dimension, from its attributes or config."""
    try:
        shape = layer.input_shape
        if shape is not None:
            return tuple(shape)
    except Exception:  # noqa: BLE001 - unbuilt layers may raise; fall back to the config
        pass
    try:
        config = layer.get_config()
    except Exception:  # noqa: BLE001
        config = {}
    for key in ("batch_input_shape", "batch_shape"):
        if config.get(key):
            return tuple(config[key])
    if config.get("input_shape"):
        return _with_batch(config["input_shape"])
    if config.get("input_dim"):
        return (None, int(config["input_dim"]))
    for attr in ("_batch_input_shape", "_input_shape"):
        shape = getattr(layer, attr, None)
        if shape is not None:
            return tuple(shape)
    return None


def _output_shape(layer: Any, input_shape: tuple | None) -> tuple | None:
    if input_shape is not None:
        try:
            return tuple(layer.compute_output_shape(input_shape))
        except Exception:  # noqa: BLE001 - fall back to what the layer recorded
            pass
    try:
        shape = layer.output_shape
        return None if shape is None else tuple(shape)
    except Exception:  # noqa: BLE001
        return None


def _activation_name(layer: Any) -> str | None:
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    if isinstance(act, str):
        return act
    return getattr(act, "__name__", None) or type(act).__name__


def _dtype_name(layer: Any) -> str | None:
    dtype = getattr(layer, "dtype", None)
    if dtype is None:
        return None
    return getattr(dtype, "name", None) or str(dtype)


def _layer_table(
    name: str,
    class_name: str,
    in_shape: Any,
    out_shape: Any,
    *,
    activation: str | None,
    dtype: str | None,
    trainable: bool | None,
    show_shapes: bool,
    show_dtype: bool,
    show_layer_names: bool,
    show_layer_activations: bool,
    show_trainable: bool,
) -> str:
    title = f"{_html(name)} ({_html(class_name)})" if show_layer_names else _html(class_name)
    rows = [f'<tr><td colspan="2" bgcolor="{_HEADER_COLOR}"><b>{title}</b></td></tr>']
    if show_layer_activations and activation is not None:
        rows.append(f'<tr><td colspan="2">Activation: {_html(activation)}</td></tr>')
    if show_shapes:
        rows.append(
            f"<tr><td>Input shape: {_html(_shape_text(in_shape))}</td>"
            f"<td>Output shape: {_html(_shape_text(out_shape))}</td></tr>"
        )
    if show_dtype and dtype is not None:
        rows.append(f'<tr><td colspan="2">dtype: {_html(dtype)}</td></tr>')
    if show_trainable and trainable is not None:
        mark = "Y" if trainable else "N"
        color = _TRAINABLE_COLORS[bool(trainable)]
        rows.append(f'<tr><td colspan="2" bgcolor="{color}">Trainable: {mark}</td></tr>')
    return (
        '<<table border="0" cellborder="1" cellspacing="0" cellpadding="6">'
        + "".join(rows)
        + "</table>>"
    )


def plot_model(
    model: Any,
    to_file: str | os.PathLike | None = "model.png",
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 96,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
) -> Graph:
    """Draw a model's layers as boxes joined by arrows, like ``keras.utils.plot_model``.

    Each layer is an HTML table: ``name (Class)``, then optionally
    ``Activation: relu``, ``Input shape: (None, 2) | Output shape: (None, 16)``,
    ``dtype`` and a coloured ``Trainable: Y/N`` badge. An input node comes first
    when the input shape is known. Nested models are one box, or a dashed
    cluster of their layers with ``expand_nested=True``. The file format comes
    from ``to_file``'s extension (``.png``, ``.svg``, ``.jpg``, ``.pdf``,
    ``.dot``/``.gv``); ``to_file=None`` only returns the Digraph.
    """
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            f"plot_model expects a model with a `layers` list (e.g. Sequential), "
            f"received {type(model).__name__}"
        )
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be one of 'TB', 'LR', 'BT', 'RL', received {rankdir!r}")
    options = dict(
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )
    dot = Graph(
        name=str(getattr(model, "name", "model")),
        graph_attr={"rankdir": rankdir, "concentrate": "true", "dpi": str(int(dpi))},
        node_attr={"shape": "plaintext", "fontname": "Helvetica", "fontsize": "12"},
    )
    counter = [0]

    def new_id() -> str:
        counter[0] += 1
        return f"layer{counter[0] - 1}"

    def add_sequence(graph: Any, seq: list, in_shape: tuple | None, prev: str | None):
        for layer in seq:
            out_shape = _output_shape(layer, in_shape)
            inner = getattr(layer, "layers", None)
            if expand_nested and isinstance(inner, list) and inner:
                with graph.subgraph(name=f"cluster_{counter[0]}") as sub:
                    sub.attr(label=str(getattr(layer, "name", "")), style="dashed")
                    prev, out_shape = add_sequence(sub, inner, in_shape, prev)
            else:
                nid = new_id()
                trainable = getattr(layer, "trainable", None)
                graph.node(
                    nid,
                    _layer_table(
                        str(getattr(layer, "name", nid)),
                        type(layer).__name__,
                        in_shape,
                        out_shape,
                        activation=_activation_name(layer),
                        dtype=_dtype_name(layer),
                        trainable=None if trainable is None else bool(trainable),
                        **options,
                    ),
                )
                if prev is not None:
                    dot.edge(prev, nid)
                prev = nid
            in_shape = out_shape
        return prev, in_shape

    if getattr(model, "_nodes", None) is not None:  # a functional graph: one box per layer
        _add_graph_nodes(dot, model, options)
        return _finish(dot, to_file, dpi=dpi)
    in_shape = _layer_input_shape(layers[0]) if layers else None
    prev = None
    if in_shape is not None:
        prev = new_id()
        dot.node(
            prev,
            _layer_table(
                "input_layer",
                "InputLayer",
                in_shape,
                in_shape,
                activation=None,
                dtype=_dtype_name(layers[0]),
                trainable=None,
                **options,
            ),
        )
    add_sequence(dot, list(layers), in_shape, prev)
    return _finish(dot, to_file, dpi=dpi)


def _add_graph_nodes(dot: Any, model: Any, options: dict[str, Any]) -> None:
    """A functional model's layers as boxes, with an arrow per tensor from layer to layer."""
    from tinygrad_mlp.symbolic import flatten

    ids: dict[int, str] = {}
    for node in model._nodes:
        layer = node.layer
        if id(layer) in ids:  # a shared layer is one box with several arrows
            continue
        ids[id(layer)] = f"layer{len(ids)}"
        ins = [t.shape for t in node.input_tensors] or [t.shape for t in node.output_tensors]
        outs = [t.shape for t in flatten(node.outputs)]
        trainable = getattr(layer, "trainable", None)
        dot.node(
            ids[id(layer)],
            _layer_table(
                str(layer.name),
                type(layer).__name__,
                ins[0] if len(ins) == 1 else ins,
                outs[0] if len(outs) == 1 else outs,
                activation=_activation_name(layer),
                dtype=_dtype_name(layer),
                trainable=None if trainable is None else bool(trainable),
                **options,
            ),
        )
    for node in model._nodes:
        for tensor in node.input_tensors:
            dot.edge(ids[id(tensor._keras_history[0])], ids[id(node.layer)])


# ----------------------------------------------------------------------------
# plot_network

_NEGATIVE = (0x21, 0x66, 0xAC)  # blue
_POSITIVE = (0xB2, 0x18, 0x2B)  # red
_FAINT = (0xDD, 0xDD, 0xDD)


def _dense_weights(model: Any) -> list[tuple[str, np.ndarray, np.ndarray | None, str | None]]:
    """(layer name, kernel (in, out), bias or None, activation) for every layer with a kernel."""
    found = []
    for layer in getattr(model, "layers", []):
        weights = [np.asarray(w) for w in layer.get_weights()]
        if not weights or weights[0].ndim != 2:
            continue
        kernel = weights[0]
        bias = weights[1] if len(weights) > 1 and weights[1].shape == (kernel.shape[1],) else None
        found.append((str(getattr(layer, "name", "")), kernel, bias, _activation_name(layer)))
    return found


def _visible(n: int, max_neurons: int) -> list[int]:
    """Indices drawn for a layer of ``n`` neurons: all, or the first ones and the last."""
    if n <= max_neurons:
        return list(range(n))
    keep = max(max_neurons - 1, 1)
    return list(range(keep - 1)) + [n - 1] if keep > 1 else [n - 1]


def _network_numbers(
    model: Any, x: Any, y: Any, loss: Any
) -> tuple[list[np.ndarray], list[np.ndarray] | None, list[np.ndarray] | None]:
    """For one sample: every layer's activations, and with a target the neurons' errors
    e = dL/dz and the weights' gradients dL/dw (the engine's, through ``grad``)."""
    from tinygrad_mlp.engine import grad

    layers = [layer for layer in model.layers if _dense_weights_of(layer) is not None]
    sample = np.asarray(x, dtype=np.float64).reshape(1, -1)
    a = Value(sample, requires_grad=False)
    activations, pre = [sample[0]], []
    for layer in layers:
        z = layer.call_linear(a)
        a = layer.activation(z)
        pre.append(z)
        activations.append(np.asarray(a.data, dtype=np.float64)[0])
    if y is None:
        return activations, None, None
    target = np.asarray(y, dtype=np.float64).reshape(1, -1)
    if target.shape != a.shape:
        raise ValueError(f"y has shape {target.shape[1:]}, the model's output {a.shape[1:]}")
    if loss is None:  # the course's L = 1/2 sum (y_hat - y)^2
        value = 0.5 * ((a - target) ** 2).sum()
    else:
        from tinygrad_mlp import losses

        value = losses.get(loss)(target, a)
    kernels = [layer.kernel for layer in layers]
    grads = grad(value, pre + kernels)
    errors = [np.asarray(g, dtype=np.float64)[0] for g in grads[: len(pre)]]
    weight_grads = [np.asarray(g, dtype=np.float64) for g in grads[len(pre) :]]
    return activations, errors, weight_grads


def _dense_weights_of(layer: Any) -> np.ndarray | None:
    weights = layer.get_weights()
    return weights[0] if weights and np.ndim(weights[0]) == 2 else None


def plot_network(
    model: Any,
    to_file: str | os.PathLike | None = "network.png",
    max_neurons: int = 16,
    show_weights: bool = True,
    show_bias: bool = False,
    rankdir: str = "LR",
    dpi: int = 96,
    x: Any = None,
    y: Any = None,
    loss: Any = None,
) -> Graph:
    """Draw every neuron of a small MLP as a circle and every weight as an edge.

    Layers are ranks from left to right: inputs ``x1..xn``, hidden neurons
    ``h1..``, outputs ``y1..``. An edge is red for a positive weight and blue for a
    negative one, its width growing with |w| (a legend says so); with at most 40
    weights drawn each edge is labelled with its value. ``show_bias`` adds a
    ``+1`` node per layer whose edges are the biases. A layer wider than
    ``max_neurons`` shows its first neurons, a ``...`` node for the rest, and
    its last neuron, and a notice says how many were left out.

    With one sample ``x`` every neuron shows its activation (the slides'
    0.82 / 0.90 / 0.86); with its target ``y`` too, every neuron shows its error
    ``e = dL/dz`` and every edge its gradient ``dL/dw`` under the weight, for
    the course's ``L = 1/2 sum (y_hat - y)^2`` or the ``loss`` named.
    """
    numbers = None if x is None else _network_numbers(model, x, y, loss)
    dense = _dense_weights(model)
    if not dense:
        raise ValueError(
            "plot_network needs a built model with at least one Dense-like layer "
            "(a 2-D kernel); build it first (call it on data or give input_dim)"
        )
    if max_neurons < 2:
        raise ValueError(f"max_neurons must be at least 2, received {max_neurons}")
    widths = [dense[0][1].shape[0]] + [k.shape[1] for _, k, _, _ in dense]
    visible = [_visible(n, max_neurons) for n in widths]
    drawn = sum(
        len(visible[li]) * len(visible[li + 1]) + (len(visible[li + 1]) if show_bias else 0)
        for li in range(len(dense))
    )
    label_weights = show_weights and drawn <= 40
    # the scale of colours and widths: the largest finite |w| (one NaN/inf from a
    # diverged run must not wipe out the scale of every other weight)
    scaled = [k for _, k, _, _ in dense]
    scaled += [b for _, _, b, _ in dense if b is not None] if show_bias else []
    wmax = max(float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)) for a in scaled) or 1.0

    width = "0.5" if numbers is None else ("0.95" if numbers[1] is None else "1.25")
    dot = Graph(
        name=str(getattr(model, "name", "network")),
        graph_attr={"rankdir": rankdir, "splines": "line", "nodesep": "0.15", "ranksep": "1.8"},
        node_attr={
            "shape": "circle",
            "fixedsize": "true",
            "width": width,
            "fontname": "Helvetica",
            "fontsize": "10",
            "style": "filled",
            "fillcolor": "#ffffff",
        },
        edge_attr={"arrowsize": "0.5", "fontsize": "8", "fontname": "Helvetica"},
    )
    n_layers = len(widths)
    prefix = ["x"] + ["h"] * (n_layers - 2) + ["y"]
    titles = ["input"] + [
        f"{name}" + (f" ({act})" if act and act != "linear" else "") for name, _, _, act in dense
    ]
    fills = ["#eeeeee"] + ["#fff3d6"] * (n_layers - 2) + ["#d6ecff"]

    def nid(li: int, i: int) -> str:
        return f"n{li}_{i}"

    # One rank per layer, its title on top, its neurons in order below: the
    # invisible edges chaining a rank keep x1, x2, ... top to bottom (without them
    # crossing minimisation shuffles the neurons; clusters would not hold the order).
    for li, n in enumerate(widths):
        with dot.subgraph(name=f"layer_{li}") as sub:
            sub.attr(rank="same")
            column = [f"title{li}"]
            sub.node(column[0], _esc_op(titles[li]), shape="plaintext", style="", fixedsize="false")
            vis = visible[li]
            for pos, i in enumerate(vis):
                if pos == len(vis) - 1 and len(vis) < n:
                    sub.node(f"more{li}", "...", shape="plaintext", style="")
                    column.append(f"more{li}")
                text = f"{prefix[li]}{i + 1}"
                if numbers is not None:
                    activations, errors, _ = numbers
                    text += f"\\n{_fmt(activations[li][i])}"
                    if errors is not None and li > 0:
                        text += f"\\ne {_fmt(errors[li - 1][i])}"
                sub.node(nid(li, i), text, fillcolor=fills[li])
                column.append(nid(li, i))
            if show_bias and li < n_layers - 1:
                sub.node(f"bias{li}", "+1", fillcolor="#f5f5f5", style="filled,dashed")
                column.append(f"bias{li}")
            for a, b in zip(column, column[1:], strict=False):
                sub.edge(a, b, style="invis")

    def weight_edge(src: str, dst: str, w: float, k: int, g: float | None = None) -> None:
        """An edge for weight w; k staggers its label (see below)."""
        t = abs(w) / wmax if math.isfinite(w) else 1.0
        color = _mix(_FAINT, _POSITIVE if w >= 0 else _NEGATIVE, 0.25 + 0.75 * t)
        if not math.isfinite(w):
            color = "#000000"  # NaN/inf: black, whatever the sign
        attrs = {"color": color if show_weights else "#777777", "penwidth": f"{0.5 + 3.0 * t:.2f}"}
        if not show_weights:
            attrs["penwidth"] = "1"
        if label_weights:
            # On the edge near its source, where the fanned-out edges are still apart,
            # on a white patch so the line does not cross the digits; labels sit at one
            # of three distances (k = the target's position) so a neuron's edges differ.
            gradient = (
                "" if g is None else f'<tr><td><font color="#555555">g {_fmt(g)}</font></td></tr>'
            )
            attrs["taillabel"] = (
                '<<table border="0" cellborder="0" cellpadding="1" bgcolor="#ffffff">'
                f'<tr><td><font color="{color}">{_fmt(w)}</font></td></tr>{gradient}</table>>'
            )
            attrs["labeldistance"] = str(3 + 2 * (k % 3))
            attrs["labelangle"] = "0"
        dot.edge(src, dst, **attrs)

    weight_grads = None if numbers is None else numbers[2]
    for li, (_, kernel, bias, _) in enumerate(dense):
        for k, j in enumerate(visible[li + 1]):
            for i in visible[li]:
                g = None if weight_grads is None else float(weight_grads[li][i, j])
                weight_edge(nid(li, i), nid(li + 1, j), float(kernel[i, j]), k, g)
            if show_bias:
                b = 0.0 if bias is None else float(bias[j])
                weight_edge(f"bias{li}", nid(li + 1, j), b, k)
        # the collapsed neurons: one faint dashed edge each way, for the shape of the picture
        if len(visible[li]) < widths[li] and len(visible[li + 1]) < widths[li + 1]:
            dot.edge(f"more{li}", f"more{li + 1}", style="dashed", color="#bbbbbb")
    _network_legend(dot, wmax, widths, visible, titles, numbers)
    return _finish(dot, to_file, dpi=dpi)


def _network_legend(
    dot: Graph,
    wmax: float,
    widths: list[int],
    visible: list[list[int]],
    titles: list[str],
    numbers: Any,
) -> None:
    """What the colours, widths and numbers mean, and which neurons were left out."""
    rows = [
        f'<tr><td bgcolor="{_hex(_POSITIVE)}" width="28" height="8" fixedsize="true"></td>'
        '<td align="left">weight &gt; 0</td></tr>',
        f'<tr><td bgcolor="{_hex(_NEGATIVE)}" width="28" height="8" fixedsize="true"></td>'
        '<td align="left">weight &lt; 0</td></tr>',
        f'<tr><td>width</td><td align="left">|w|, up to {_fmt(wmax)}</td></tr>',
    ]
    if numbers is not None:
        rows.append('<tr><td>neuron</td><td align="left">name, activation a</td></tr>')
        if numbers[1] is not None:
            rows.append('<tr><td>e</td><td align="left">error dL/dz of the neuron</td></tr>')
            rows.append('<tr><td>g</td><td align="left">gradient dL/dw of the weight</td></tr>')
    for title, n, vis in zip(titles, widths, visible, strict=True):
        if len(vis) < n:
            rows.append(
                f'<tr><td colspan="2"><font color="#b00000">{_html(title)}: {len(vis)} of {n} '
                "neurons drawn (raise max_neurons to see all)</font></td></tr>"
            )
    # the graph's own label, below the drawing: out of the way of every node and edge
    dot.attr(
        label='<<table border="0" cellborder="0" cellspacing="2">' + "".join(rows) + "</table>>",
        labelloc="b",
        labeljust="l",
        fontname="Helvetica",
        fontsize="10",
    )
