"""Tests for ``tinygrad_mlp.visualization``: draw_graph, plot_model, plot_network, rendering.

The DOT text is parsed back into nodes and edges, and every count is derived
from the graph's construction: a scalar graph of V Values and K operations draws
V records, K op ellipses and K + (inputs of all ops) edges. Rendered files are
checked by structure (PNG signature, SVG root, DOT text), never byte for byte,
so the tests pass with the system ``dot`` or with graphviz-pure.
"""

from __future__ import annotations

import math
import re
import shutil
import struct
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp import visualization as viz
from tinygrad_mlp.engine import Value
from tinygrad_mlp.layers import BatchNormalization, Dense, Dropout
from tinygrad_mlp.losses import mean_squared_error
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.utils import draw_graph, plot_model, plot_network

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEX6 = re.compile(r"#[0-9a-fA-F]{6}")

# ----------------------------------------------------------------------------
# reading DOT text back

_NODE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\w+) \[(.*)\]\s*$')
_EDGE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|\w+) -> ("(?:[^"\\]|\\.)*"|\w+)(?: \[(.*)\])?\s*$')
_LABEL = re.compile(r'label=("(?:[^"\\]|\\.)*"|<.*>|[^\s\]]+)')
_COLOR = re.compile(r'(?:fillcolor|fontcolor|bgcolor|color)="?([^"\s>\]]+)')


def _unquote(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


class Dot:
    """Nodes (name -> attribute text) and edges (tail, head, attribute text) of DOT source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes: dict[str, str] = {}
        self.edges: list[tuple[str, str, str]] = []
        for line in source.splitlines():
            m = _EDGE.match(line)
            if m:
                self.edges.append((_unquote(m[1]), _unquote(m[2]), m[3] or ""))
                continue
            m = _NODE.match(line)
            if m and _unquote(m[1]) not in ("graph", "node", "edge"):
                self.nodes[_unquote(m[1])] = m[2]

    def label(self, name: str) -> str:
        m = _LABEL.search(self.nodes[name])
        return _unquote(m[1]) if m else ""

    def with_attr(self, text: str) -> list[str]:
        return [n for n, attrs in self.nodes.items() if text in attrs]

    @property
    def records(self) -> list[str]:
        return self.with_attr("shape=record")

    @property
    def ops(self) -> list[str]:
        return self.with_attr("shape=ellipse")


def _fields(record_label: str) -> dict[str, str]:
    """``{ w1 | data -3.000 | grad 0.4142 }`` -> name 'w1', data '-3.000', grad '0.4142'."""
    inner = record_label.strip()
    assert inner.startswith("{") and inner.endswith("}"), record_label
    out: dict[str, str] = {}
    for cell in (c.strip() for c in re.split(r"(?<!\\)\|", inner[1:-1])):
        key, _, rest = cell.partition(" ")
        if key in ("data", "grad"):
            out[key] = rest
        else:
            out.setdefault("name", cell)
    return out


def _sig_digits(text: str) -> int:
    """Significant digits written in a plain decimal number ('-0.6213' -> 4, '6.881' -> 4)."""
    digits = text.lstrip("+-").replace(".", "").lstrip("0")
    return len(digits)


def _reachable(root: Value) -> list[Value]:
    """Distinct Values reachable from ``root`` through ``.parents`` (own traversal)."""
    seen: dict[int, Value] = {}
    stack = [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen[id(v)] = v
        stack.extend(v.parents)
    return list(seen.values())


def _rgb_sum(color: str) -> int:
    return sum(int(color[k : k + 2], 16) for k in (1, 3, 5))


def _fill(attrs: str) -> str:
    m = re.search(r'fillcolor="(#[0-9a-fA-F]+)"', attrs)
    assert m, attrs
    return m[1]


def _check_colours(source: str) -> None:
    colours = _COLOR.findall(source)
    assert colours, "expected coloured nodes or edges"
    bad = [c for c in colours if not HEX6.fullmatch(c)]
    assert not bad, f"colours must be #rrggbb, found {bad}"


# ----------------------------------------------------------------------------
# fixtures


def neuron() -> dict[str, Value]:
    """Karpathy's neuron with a sigmoid: o = sigmoid(x1*w1 + x2*w2 + b).

    b = 6 + asinh(1) = 6 + ln(1 + sqrt 2) makes n = -6 + 0 + b = 0.8814 and
    o = 1 / (1 + 1/(1 + sqrt 2)) = 1/sqrt 2 = 0.7071.
    """
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.0 + math.asinh(1.0), label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "s"
    n = s + b
    n.label = "n"
    o = n.sigmoid()
    o.label = "o"
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, s=s, n=n, o=o)


def records_by_name(dot: Dot) -> dict[str, dict[str, str]]:
    out = {}
    for r in dot.records:
        f = _fields(dot.label(r))
        out[f.get("name", r)] = f | {"node": r}
    return out


def mlp_231(name: str = "net") -> Sequential:
    model = Sequential(
        [Dense(3, activation="tanh", input_shape=(2,), name="hid"), Dense(1, name="out")],
        name=name,
    )
    model.layers[0].set_weights(
        [np.array([[1.0, -2.0, 0.5], [-0.25, 3.0, -1.0]]), np.array([0.1, -0.2, 0.3])]
    )
    model.layers[1].set_weights([np.array([[2.0], [-0.5], [1.5]]), np.array([-0.7])])
    return model


def keras_model() -> Sequential:
    return Sequential(
        [
            Dense(16, activation="relu", input_shape=(2,), name="d1"),
            BatchNormalization(name="bn"),
            Dropout(0.5, name="drop"),
            Dense(1, activation="sigmoid", name="d2"),
        ],
        name="clf",
    )


# ----------------------------------------------------------------------------
# draw_graph on the neuron


def test_neuron_structure_counts():
    v = neuron()
    dot = Dot(draw_graph(v["o"]).source)
    # 5 leaves + x1*w1, x2*w2, s, n, o
    assert len(dot.records) == 10
    # two *, two +, one sigmoid
    assert len(dot.ops) == 5
    assert sorted(dot.label(o) for o in dot.ops) == ["*", "*", "+", "+", "sigmoid"]
    # each op: op -> result, plus one edge per input (2+2+2+2+1)
    assert len(dot.edges) == 5 + 9
    declared = set(dot.nodes)
    assert all(a in declared and b in declared for a, b, _ in dot.edges)
    # the sigmoid's input is n, its output o
    recs = records_by_name(dot)
    sig = next(o for o in dot.ops if dot.label(o) == "sigmoid")
    assert (recs["n"]["node"], sig) in [(a, b) for a, b, _ in dot.edges]
    assert (sig, recs["o"]["node"]) in [(a, b) for a, b, _ in dot.edges]


def test_neuron_labels_before_backward_show_no_gradient_numbers():
    v = neuron()
    dot = Dot(draw_graph(v["o"]).source)
    recs = records_by_name(dot)
    assert set(recs) == {"x1", "x2", "w1", "w2", "b", "x1*w1", "x2*w2", "s", "n", "o"}
    for name, f in recs.items():
        assert "grad" in f, name
        assert not re.search(r"\d", f["grad"]), f"{name}: grad before backward shows {f['grad']}"
    # data is already known
    assert float(recs["o"]["data"]) == pytest.approx(1 / math.sqrt(2), abs=5e-5)
    # no colour by gradient and no legend before backward
    assert "legend" not in dot.nodes
    assert len({_fill(dot.nodes[f["node"]]) for f in recs.values()}) == 1


def test_neuron_labels_after_backward_four_significant_digits():
    v = neuron()
    v["o"].backward()
    dot = Dot(draw_graph(v["o"]).source)
    recs = records_by_name(dot)
    s = 1 / math.sqrt(2)
    dn = s * (1 - s)  # sigmoid' = s(1 - s) = (sqrt 2 - 1)/2 = 0.2071
    expected_grad = {
        "o": 1.0,
        "n": dn,
        "b": dn,
        "s": dn,
        "x1*w1": dn,
        "x2*w2": dn,
        "x1": -3.0 * dn,  # w1 * dn = -0.6213
        "w1": 2.0 * dn,  # x1 * dn = 0.4142
        "x2": 1.0 * dn,  # w2 * dn
        "w2": 0.0,  # x2 * dn
    }
    expected_data = {
        "o": s,
        "n": math.asinh(1.0),
        "b": 6.0 + math.asinh(1.0),
        "s": -6.0,
        "x1*w1": -6.0,
        "x2*w2": 0.0,
        "x1": 2.0,
        "w1": -3.0,
        "x2": 0.0,
        "w2": 1.0,
    }
    for name, f in recs.items():
        for key, table in (("grad", expected_grad), ("data", expected_data)):
            want = table[name]
            got = float(f[key])
            assert got == pytest.approx(want, rel=5e-4, abs=1e-12), (name, key, f[key])
            if want != 0:
                assert _sig_digits(f[key]) == 4, (name, key, f[key])
    # spot-check the text of the famous numbers
    assert recs["o"]["data"] == "0.7071"
    assert recs["x1"]["grad"] == "-0.6213"
    assert recs["w1"]["grad"] == "0.4142"
    assert recs["n"]["grad"] == "0.2071"


def test_colour_grows_with_gradient_magnitude():
    v = neuron()
    v["o"].backward()
    dot = Dot(draw_graph(v["o"]).source)
    recs = records_by_name(dot)
    nonzero = sorted(
        ((abs(float(f["grad"])), _rgb_sum(_fill(dot.nodes[f["node"]]))) for f in recs.values()),
        key=lambda t: t[0],
    )
    nonzero = [t for t in nonzero if t[0] > 0]
    # larger |grad| -> darker (smaller r+g+b); the largest (o, |grad| 1) strictly darker
    darkness = [rgb for _, rgb in nonzero]
    assert darkness == sorted(darkness, reverse=True)
    assert darkness[-1] < darkness[0]
    # w2 has gradient exactly 0: its own colour, not one of the scale's
    zero_fill = _fill(dot.nodes[recs["w2"]["node"]])
    assert zero_fill not in {_fill(dot.nodes[recs[n]["node"]]) for n in recs if n != "w2"}
    assert "legend" in dot.nodes
    # colour_by_grad=False: one fill for everything
    plain = Dot(draw_graph(v["o"], color_by_grad=False).source)
    assert len({_fill(plain.nodes[r]) for r in plain.records}) == 1


def test_show_data_and_show_grad_switches():
    v = neuron()
    v["o"].backward()
    no_data = Dot(draw_graph(v["o"], show_data=False).source)
    no_grad = Dot(draw_graph(v["o"], show_grad=False).source)
    neither = Dot(draw_graph(v["o"], show_data=False, show_grad=False).source)
    for dot, has_data, has_grad in ((no_data, False, True), (no_grad, True, False)):
        labels = [dot.label(r) for r in dot.records]
        assert len(labels) == 10
        assert all(("data " in lab) == has_data for lab in labels)
        assert all(("grad " in lab) == has_grad for lab in labels)
    names = {_fields(neither.label(r)).get("name") for r in neither.records}
    assert {"x1", "w1", "o"} <= names
    assert all("data" not in neither.label(r) for r in neither.records)
    assert all("grad" not in neither.label(r) for r in neither.records)


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_rankdir(rankdir):
    v = neuron()
    assert f"rankdir={rankdir}" in draw_graph(v["o"], rankdir=rankdir).source


def test_default_rankdir_is_lr_and_bad_arguments_are_explained():
    v = neuron()
    assert "rankdir=LR" in draw_graph(v["o"]).source
    with pytest.raises(ValueError, match="'XY'"):
        draw_graph(v["o"], rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(v["o"], max_nodes=0)
    with pytest.raises(TypeError, match="float"):
        draw_graph(1.5)


def test_colours_are_six_digit_hex():
    v = neuron()
    v["o"].backward()
    _check_colours(draw_graph(v["o"]).source)
    _check_colours(draw_graph(v["o"], max_nodes=3).source)


def test_same_graph_same_source():
    a, b = neuron(), neuron()
    assert draw_graph(a["o"]).source == draw_graph(b["o"]).source
    a["o"].backward()
    b["o"].backward()
    first = draw_graph(a["o"]).source
    assert first == draw_graph(a["o"]).source == draw_graph(b["o"]).source


def test_reused_value_is_one_record_with_two_edges():
    x = Value(3.0, label="x")
    y = x * x  # one op with x as both inputs
    z = y + x
    dot = Dot(draw_graph(z).source)
    assert len(dot.records) == 3  # x, y, z
    assert len(dot.ops) == 2
    assert len(dot.edges) == 2 + (2 + 2)
    x_node = records_by_name(dot)["x"]["node"]
    assert sum(1 for a, _, _ in dot.edges if a == x_node) == 3


# ----------------------------------------------------------------------------
# tensors and models


def test_tensor_values_show_shape_dtype_and_norms():
    x = Value(np.ones((4, 3), np.float32), requires_grad=False, label="x")
    w = Value(np.ones((3, 2), np.float32), label="W")
    bias = Value(np.array([1.0, -2.0], np.float32), label="bias")
    y = ((x @ w) + bias).sum()
    y.backward()
    dot = Dot(draw_graph(y).source)
    labels = {r: dot.label(r) for r in dot.records}
    by_name = {}
    for lab in labels.values():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", lab.strip()[1:-1])]
        by_name[cells[0]] = cells
    # W: (3, 2) float32, 6 entries -> norms; |W| = sqrt 6, dL/dW = x^T 1 = 4 everywhere
    w_cells = by_name["W"]
    assert "(3, 2) float32" in w_cells
    assert float(w_cells[2].split()[-1]) == pytest.approx(math.sqrt(6), rel=5e-4)
    assert "norm" in w_cells[2] and "norm" in w_cells[3]
    assert float(w_cells[3].split()[-1]) == pytest.approx(4 * math.sqrt(6), rel=5e-4)
    # x: no gradient wanted -> none shown; |x| = sqrt 12
    x_cells = by_name["x"]
    assert "(4, 3) float32" in x_cells
    assert float(x_cells[2].split()[-1]) == pytest.approx(math.sqrt(12), rel=5e-4)
    assert not re.search(r"\d", x_cells[3])
    # bias: 2 entries, small enough to list; dL/dbias = 4 rows each
    b_cells = by_name["bias"]
    assert "(2,) float32" in b_cells
    assert [float(t) for t in b_cells[2].removeprefix("data ").strip("[]").split()] == [1.0, -2.0]
    assert [float(t) for t in b_cells[3].removeprefix("grad ").strip("[]").split()] == [4.0, 4.0]
    # y = sum of 4 rows of (3 + 1, 3 - 2) = 4 * 5 = 20, a 0-d float32 tensor
    y_label = next(lab for lab in labels.values() if lab.startswith("{ ()"))
    assert "() float32" in y_label
    assert "20.00" in y_label


def test_model_loss_graph_names_parameters_by_layer():
    model = mlp_231()
    x = Value(np.ones((4, 2), np.float32), requires_grad=False)
    loss = mean_squared_error(np.zeros((4, 1), np.float32), model(x)).mean()
    loss.backward()
    dot = Dot(draw_graph(loss, max_nodes=1000).source)
    names = {_fields(dot.label(r)).get("name") for r in dot.records}
    assert {"hid/kernel", "hid/bias", "out/kernel", "out/bias"} <= names
    assert len(dot.records) == len(_reachable(loss))
    assert all(a in dot.nodes and b in dot.nodes for a, b, _ in dot.edges)
    _check_colours(dot.source)


# ----------------------------------------------------------------------------
# big graphs and collapsing


def test_100000_node_chain_collapses_without_recursion_error():
    v = Value(0.5, label="start")
    for _ in range(99_999):
        v = -v  # each neg adds one Value: 1 + 99,999 = 100,000
    v.backward()
    dot = Dot(draw_graph(v, max_nodes=200).source)
    assert len(dot.records) == 200
    more = [n for n in dot.nodes if re.search(r"\.\.\. \d+ more", dot.label(n))]
    assert len(more) == 1
    assert re.search(r"\.\.\. 99800 more", dot.label(more[0]))
    # the one hidden parent hangs off the last op drawn, and nothing is undeclared
    assert [b for a, b, _ in dot.edges if a == more[0]] == [dot.ops[-1]]
    assert all(a in dot.nodes and b in dot.nodes for a, b, _ in dot.edges)
    # "start" is the farthest from the output: hidden
    assert all(_fields(dot.label(r)).get("name") != "start" for r in dot.records)


def test_collapse_hides_the_values_farthest_from_the_output():
    # root = tanh(near) + c10, where c10 = tanh^10(deep): near is 2 steps from the
    # output, deep 11. Breadth-first, the 5 kept Values are root, tanh(near), c10,
    # near and c9 (distances 0, 1, 1, 2, 2): near is kept, deep and c1..c8 hidden.
    deep = Value(0.3, label="deep")
    c = deep
    for k in range(1, 11):
        c = c.tanh()
        c.label = f"c{k}"
    near = Value(0.2, label="near")
    root = near.tanh() + c
    dot = Dot(draw_graph(root, max_nodes=5).source)
    names = {_fields(dot.label(r)).get("name") for r in dot.records}
    assert {"near", "c10", "c9"} <= names
    assert not names & {"deep", "c1", "c8"}
    # 14 Values in all (root, tanh(near), near, deep, c1..c10) - 5 shown
    assert any(re.search(r"\.\.\. 9 more", dot.label(n)) for n in dot.nodes)


def test_no_more_node_when_everything_fits():
    v = neuron()
    dot = Dot(draw_graph(v["o"], max_nodes=10).source)
    assert len(dot.records) == 10
    assert not any("more" in dot.label(n) for n in dot.nodes)
    dot9 = Dot(draw_graph(v["o"], max_nodes=9).source)
    assert len(dot9.records) == 9
    assert any(re.search(r"\.\.\. 1 more", dot9.label(n)) for n in dot9.nodes)


_OPS = ("+", "*", "tanh", "sigmoid", "relu")


@st.composite
def expression_graphs(draw):
    n_leaves = draw(st.integers(1, 4))
    values = [
        Value(draw(st.floats(-2, 2, allow_nan=False)), label=f"leaf{i}") for i in range(n_leaves)
    ]
    for _ in range(draw(st.integers(0, 12))):
        op = draw(st.sampled_from(_OPS))
        a = values[draw(st.integers(0, len(values) - 1))]
        if op in ("+", "*"):
            b = values[draw(st.integers(0, len(values) - 1))]
            values.append(a + b if op == "+" else a * b)
        else:
            values.append(getattr(a, op)())
    return values[-1]


@settings(max_examples=40)
@given(root=expression_graphs(), max_nodes=st.integers(1, 30), backward=st.booleans())
def test_random_graphs_records_match_reachable_values(root, max_nodes, backward):
    if backward:
        root.backward()
    reach = _reachable(root)
    ops = [v for v in reach if v.parents]
    dot = Dot(draw_graph(root, max_nodes=max_nodes).source)
    assert all(a in dot.nodes and b in dot.nodes for a, b, _ in dot.edges)
    _check_colours(dot.source)
    if len(reach) <= max_nodes:
        assert len(dot.records) == len(reach)
        assert len(dot.ops) == len(ops)
        assert len(dot.edges) == len(ops) + sum(len(v.parents) for v in ops)
        assert not any("more" in dot.label(n) for n in dot.nodes)
    else:
        assert len(dot.records) == max_nodes
        hidden = len(reach) - max_nodes
        more = [n for n in dot.nodes if re.search(rf"\.\.\. {hidden} more", dot.label(n))]
        assert len(more) == 1
        assert any(a == more[0] for a, _, _ in dot.edges)


# ----------------------------------------------------------------------------
# rendering


@pytest.fixture
def drawn():
    v = neuron()
    v["o"].backward()
    return draw_graph(v["o"])


def _svg_text(path_or_text) -> str:
    root = (
        ET.fromstring(path_or_text)
        if isinstance(path_or_text, str)
        else ET.parse(path_or_text).getroot()
    )
    assert root.tag.split("}")[-1] == "svg"
    return " ".join(t.strip() for t in root.itertext() if t.strip())


def test_png_file_has_png_signature(tmp_path, drawn):
    out = tmp_path / "graph.png"
    returned = draw_graph(neuron()["o"], to_file=out)
    assert isinstance(returned, graphviz.Digraph)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    assert width > 50 and height > 50
    assert viz.render(drawn, tmp_path / "sub" / "again.png").endswith("again.png")
    assert (tmp_path / "sub" / "again.png").read_bytes().startswith(PNG_SIGNATURE)


def test_svg_file_is_xml_with_the_labels(tmp_path, drawn):
    out = tmp_path / "graph.svg"
    drawn.save_as(out)
    text = _svg_text(out)
    for word in ("x1", "w1", "0.4142", "sigmoid"):
        assert word in text


@pytest.mark.parametrize("ext", ["dot", "gv"])
def test_dot_source_needs_no_renderer(tmp_path, drawn, monkeypatch, ext):
    monkeypatch.setattr(viz.shutil, "which", lambda *a, **k: None)
    monkeypatch.setattr(viz, "_find_pure", lambda: None)
    out = tmp_path / f"graph.{ext}"
    viz.render(drawn, out)
    assert out.read_text(encoding="utf-8") == drawn.source
    assert out.read_text(encoding="utf-8").startswith("digraph")
    # and without any renderer a picture format is a clear error
    with pytest.raises(RuntimeError, match="graphviz-pure"):
        viz.render(drawn, tmp_path / "graph.png")


def test_format_argument_names_an_extensionless_file(tmp_path):
    draw_graph(neuron()["o"], to_file=tmp_path / "pic", format="svg")
    _svg_text(tmp_path / "pic.svg")
    with pytest.raises(ValueError, match="extension"):
        viz.render("digraph {}", tmp_path / "noext")


def test_pdf_without_system_dot_is_a_clear_error(tmp_path, drawn, monkeypatch):
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match=r"'pdf'.*`dot`"):
            viz.render(drawn, tmp_path / "real.pdf")
        assert not (tmp_path / "real.pdf").exists()
    # the same message whenever `dot` is missing, even on machines that have it
    monkeypatch.setattr(viz.shutil, "which", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match=r"'pdf'.*`dot`"):
        viz.render(drawn, tmp_path / "g.pdf")
    assert not (tmp_path / "g.pdf").exists()


def test_jupyter_reprs_give_svg(drawn):
    bundle = drawn._repr_mimebundle_()
    assert "image/svg+xml" in bundle
    assert "sigmoid" in _svg_text(bundle["image/svg+xml"])
    assert "0.7071" in _svg_text(drawn._repr_svg_())


# ----------------------------------------------------------------------------
# plot_model


def _tables(dot: Dot) -> dict[str, str]:
    return {n: dot.label(n) for n in dot.nodes if "<table" in dot.label(n)}


def _title(table: str) -> str:
    return re.search(r"<b>(.*?)</b>", table)[1]


def test_plot_model_one_box_per_layer(tmp_path):
    model = keras_model()
    g = plot_model(model, to_file=tmp_path / "model.png")
    assert isinstance(g, graphviz.Digraph)
    assert (tmp_path / "model.png").read_bytes().startswith(PNG_SIGNATURE)
    dot = Dot(g.source)
    tables = _tables(dot)
    # input box + 4 layers, chained by 4 arrows
    assert len(tables) == 5
    titles = [_title(t) for t in tables.values()]
    assert titles[1:] == [
        "d1 (Dense)",
        "bn (BatchNormalization)",
        "drop (Dropout)",
        "d2 (Dense)",
    ]
    assert "InputLayer" in titles[0]
    names = list(tables)
    assert [(a, b) for a, b, _ in dot.edges] == list(zip(names, names[1:], strict=False))
    assert "Activation" not in g.source and "Input shape" not in g.source
    assert "Trainable" not in g.source
    assert "rankdir=TB" in g.source
    _check_colours(g.source)


def test_plot_model_shapes_activations_trainable():
    model = keras_model()
    model.layers[1].trainable = False
    g = plot_model(
        model, to_file=None, show_shapes=True, show_layer_activations=True, show_trainable=True
    )
    tables = list(_tables(Dot(g.source)).values())
    d1, bn, drop, d2 = tables[1:]
    # Dense(16) on 2 features: (None, 2) -> (None, 16); bn and dropout keep it; Dense(1)
    assert "Input shape: (None, 2)" in d1 and "Output shape: (None, 16)" in d1
    for t in (bn, drop):
        assert "Input shape: (None, 16)" in t and "Output shape: (None, 16)" in t
    assert "Input shape: (None, 16)" in d2 and "Output shape: (None, 1)" in d2
    assert "Activation: relu" in d1 and "Activation: sigmoid" in d2
    assert "Trainable: Y" in d1 and "Trainable: N" in bn
    _check_colours(g.source)


def test_plot_model_options_and_formats(tmp_path):
    model = keras_model()
    g = plot_model(model, to_file=tmp_path / "m.svg", rankdir="LR", show_layer_names=False)
    assert "rankdir=LR" in g.source
    assert "d1 (Dense)" not in g.source and "Dense" in g.source
    text = _svg_text(tmp_path / "m.svg")
    assert "Dense" in text and "BatchNormalization" in text
    plot_model(model, to_file=tmp_path / "m.dot")
    assert (tmp_path / "m.dot").read_text(encoding="utf-8") == plot_model(
        model, to_file=None
    ).source
    with pytest.raises(ValueError, match="'XY'"):
        plot_model(model, to_file=None, rankdir="XY")
    with pytest.raises(TypeError, match="layers"):
        plot_model(object(), to_file=None)


def test_plot_model_dpi_scales_the_png(tmp_path):
    model = keras_model()
    plot_model(model, to_file=tmp_path / "a.png", dpi=96)
    plot_model(model, to_file=tmp_path / "b.png", dpi=192)
    wa, ha = struct.unpack(">II", (tmp_path / "a.png").read_bytes()[16:24])
    wb, hb = struct.unpack(">II", (tmp_path / "b.png").read_bytes()[16:24])
    assert 1.8 < wb / wa < 2.2 and 1.8 < hb / ha < 2.2


def test_plot_model_unbuilt_model_draws_layers_without_shapes():
    # documented: the input box appears only when the input shape is known
    model = Sequential([Dense(3, name="a"), Dense(1, name="b")])
    dot = Dot(plot_model(model, to_file=None, show_shapes=True).source)
    titles = [_title(t) for t in _tables(dot).values()]
    assert titles == ["a (Dense)", "b (Dense)"]
    assert len(dot.edges) == 1
    assert "(None" not in dot.source


# ----------------------------------------------------------------------------
# plot_network


def _circles(dot: Dot, layer: int) -> list[str]:
    return [n for n in dot.nodes if n.startswith(f"n{layer}_")]


def _weight_edges(dot: Dot) -> list[tuple[str, str, str]]:
    """The drawn edges (invisible ones only hold each layer's neurons in order)."""
    return [e for e in dot.edges if "invis" not in e[2]]


def _edge_value(attrs: str) -> float:
    """The number an edge is labelled with (plain or HTML label)."""
    m = re.search(r"<font[^>]*>([^<]+)</font>", attrs) or re.search(r"label=(\S+)", attrs)
    return float(_unquote(m[1]))


def _node_centres(svg: str) -> dict[str, tuple[float, float]]:
    """Node name -> (x, y) of its ellipse in rendered SVG (y grows downwards)."""
    ns = {"s": "http://www.w3.org/2000/svg"}
    out = {}
    for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        title, ellipse = g.find("s:title", ns), g.find("s:ellipse", ns)
        if g.get("class") == "node" and title is not None and ellipse is not None:
            out[title.text] = (float(ellipse.get("cx")), float(ellipse.get("cy")))
    return out


def test_plot_network_every_weight_is_an_edge(tmp_path):
    model = mlp_231()
    g = plot_network(model, to_file=tmp_path / "net.png")
    assert (tmp_path / "net.png").read_bytes().startswith(PNG_SIGNATURE)
    dot = Dot(g.source)
    assert [len(_circles(dot, k)) for k in range(3)] == [2, 3, 1]
    edges = _weight_edges(dot)
    assert len(edges) == 2 * 3 + 3 * 1
    kernels = [model.layers[0].get_weights()[0], model.layers[1].get_weights()[0]]
    for a, b, attrs in edges:
        li, i = map(int, a[1:].split("_"))
        _, j = map(int, b[1:].split("_"))
        w = float(kernels[li][i, j])
        assert _edge_value(attrs) == pytest.approx(w, rel=5e-4)
        color = re.search(r'color="(#[0-9a-f]{6})"', attrs)[1]
        red, blue = int(color[1:3], 16), int(color[5:7], 16)
        assert (red > blue) == (w > 0), (a, b, w, color)
    _check_colours(g.source)


def test_plot_network_bias_edges():
    model = mlp_231()
    dot = Dot(plot_network(model, to_file=None, show_bias=True).source)
    # 9 weights + 3 hidden biases + 1 output bias
    edges = _weight_edges(dot)
    assert len(edges) == 9 + 3 + 1
    bias_nodes = [n for n in dot.nodes if n.startswith("bias")]
    assert len(bias_nodes) == 2
    from_bias = [(a, b) for a, b, _ in edges if a.startswith("bias")]
    assert len(from_bias) == 4
    out_bias = next(attrs for a, b, attrs in edges if a.startswith("bias") and b == "n2_0")
    assert _edge_value(out_bias) == pytest.approx(-0.7)


def test_plot_network_collapses_wide_layers():
    model = Sequential([Dense(40, input_shape=(3,), name="wide"), Dense(2, name="o")])
    dot = Dot(plot_network(model, to_file=None, max_neurons=10).source)
    hidden = _circles(dot, 1)
    ellipsis = [n for n in dot.nodes if dot.label(n) == "..."]
    assert len(ellipsis) == 1
    # at most max_neurons nodes for the layer, the "..." included; first and last shown
    assert len(hidden) + 1 <= 10
    labels = {dot.label(n) for n in hidden}
    assert {"h1", "h40"} <= labels
    assert len(_circles(dot, 0)) == 3 and len(_circles(dot, 2)) == 2
    assert len(_weight_edges(dot)) == 3 * len(hidden) + len(hidden) * 2
    assert all(a in dot.nodes and b in dot.nodes for a, b, _ in dot.edges)
    # too many weights to label; a notice says what was dropped
    assert "taillabel" not in dot.source and "label=-" not in dot.source
    assert "wide: 9 of 40 neurons drawn" in dot.source
    _check_colours(dot.source)


def test_plot_network_keeps_neurons_in_order_when_rendered():
    # rendered positions: within each layer, neuron 1 on top, then 2, 3, ...;
    # the "..." of a collapsed layer between the first neurons and the last one
    model = Sequential([Dense(12, input_shape=(3,)), Dense(2)])
    g = plot_network(model, to_file=None, max_neurons=6)
    centres = _node_centres(viz.pipe(g, "svg").decode("utf-8"))
    dot = Dot(g.source)
    for layer in range(3):
        names = sorted(_circles(dot, layer), key=lambda n: int(n.split("_")[1]))
        ys = [centres[n][1] for n in names]
        assert ys == sorted(ys) and len(set(ys)) == len(ys), (layer, names, ys)
        xs = {round(centres[n][0]) for n in names}
        assert len(xs) == 1  # one column per layer
    assert [dot.label(n) for n in _circles(dot, 1)][-1] == "h12"


def test_plot_network_nan_weight_keeps_the_scale_of_the_others():
    model = mlp_231()
    kernel, bias = model.layers[0].get_weights()
    kernel[0, 0] = np.nan
    model.layers[0].set_weights([kernel, bias])
    edges = {(a, b): attrs for a, b, attrs in _weight_edges(Dot(plot_network(model, None).source))}
    widths = {e: float(re.search(r"penwidth=([\d.]+)", attrs)[1]) for e, attrs in edges.items()}
    assert all(math.isfinite(w) for w in widths.values())
    # the largest finite |w| is 3 (x2 -> h2): thickest; |w| = 0.25 (x2 -> h1) thinner
    assert widths[("n0_1", "n1_1")] == max(widths.values())
    assert widths[("n0_1", "n1_0")] < widths[("n0_0", "n1_1")]
    assert math.isnan(_edge_value(edges[("n0_0", "n1_0")]))
    _check_colours(plot_network(model, None).source)


def test_plot_network_needs_a_built_model():
    with pytest.raises(ValueError, match="build"):
        plot_network(Sequential([Dense(3), Dense(1)]), to_file=None)


def test_draw_graph_is_exported_from_the_package():
    import tinygrad_mlp
    from tinygrad_mlp import utils

    assert tinygrad_mlp.draw_graph is utils.draw_graph


def test_plot_network_shows_the_slides_activations_errors_and_gradients(tmp_path):
    """The course's worked example: 0.82 on the hidden neurons, 0.90 and 0.86 on the outputs."""
    from tinygrad_mlp.datasets import course_example
    from tinygrad_mlp.engine import grad

    ex = course_example()
    model = Sequential(
        [Dense(2, activation="sigmoid", input_dim=2), Dense(2, activation="sigmoid")]
    )
    model.set_weights(ex.weights)
    dot = Dot(plot_network(model, x=ex.x, y=ex.y, to_file=tmp_path / "net.png").source)
    labels = {dot.label(n) for n in dot.nodes}
    assert {
        "h1\\n0.8176\\ne 0.009040",
        "y1\\n0.9026\\ne 0.01781",
        "y2\\n0.8603\\ne 0.1034",
    } <= labels
    # every edge carries its weight and the engine's gradient dL/dw
    x = Value(ex.x[None], requires_grad=False)
    h = model.layers[0](x)
    out = model.layers[1](h)
    loss = 0.5 * ((out - ex.y[None]) ** 2).sum()
    g1, g2 = grad(loss, [model.layers[0].kernel, model.layers[1].kernel])
    for g in list(np.ravel(g1)) + list(np.ravel(g2)):
        assert f"g {float(g):#.4g}" in dot.source
    assert "error dL/dz" in dot.source and "gradient dL/dw" in dot.source
    assert (tmp_path / "net.png").read_bytes()[:4] == b"\x89PNG"


def test_a_long_graph_is_drawn_top_to_bottom_by_default():
    """The course's 2-2-2 network is 13 Values deep and 8 wide: left to right it is a strip."""
    from test_backprop import course_graph

    loss, _, _ = course_graph()
    assert "rankdir=TB" in draw_graph(loss).source
    assert "rankdir=LR" in draw_graph(loss, rankdir="LR").source


def test_gradients_are_coloured_by_sign_and_the_legend_explains_the_border():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    out = a * b - b * b  # d/da = 3 > 0, d/db = 2 - 6 < 0
    out.backward()
    dot = Dot(draw_graph(out).source)
    fills = {
        dot.label(n).split("|")[0].strip(" {"): re.search(r'fillcolor="?(#[0-9a-fA-F]{6})', a)
        for n, a in dot.nodes.items()
        if n.startswith("v")
    }
    fills = {k: m[1] for k, m in fills.items() if m}
    red, blue = fills["a"], fills["b"]
    r, g, bl = (int(red[i : i + 2], 16) for i in (1, 3, 5))
    assert r > bl  # positive: orange
    r, g, bl = (int(blue[i : i + 2], 16) for i in (1, 3, 5))
    assert bl > r  # negative: blue
    assert "grad &gt; 0" in dot.source and "grad &lt; 0" in dot.source
    assert "thick border" in dot.source and "a parameter" in dot.source


def test_a_subtraction_is_drawn_as_a_subtraction():
    x = Value(0.9, label="y_hat")
    t = Value(0.25, label="t")
    loss = (x - 0.7) * (x - t)
    loss.backward()
    dot = Dot(draw_graph(loss).source)
    ops = [dot.label(n) for n in dot.nodes if n.startswith("op")]
    assert ops.count("-") == 2 and "neg" not in ops and "+" not in ops
    labels = [dot.label(n) for n in dot.nodes]
    assert any("data 0.7000" in label for label in labels)  # the constant as written: 0.7
    assert not any("data -0.7000" in label for label in labels)
    # t feeds its "-" directly, with its own gradient
    t_node = next(n for n in dot.nodes if dot.label(n).startswith("{ t"))
    assert any(a == t_node and b.startswith("op") for a, b, _ in dot.edges)
    assert x.grad == pytest.approx((0.9 - 0.25) + (0.9 - 0.7)) and t.grad == pytest.approx(
        -(0.9 - 0.7)
    )
