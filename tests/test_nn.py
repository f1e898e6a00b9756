"""The micrograd-style scalar network: same numbers as micrograd, and it learns."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.engine import Value
from tinygrad_mlp.nn import MLP, Layer, Neuron


def test_neuron_forward_matches_the_course_example():
    # inputs (1, 0), weights 0.5, bias 1, sigmoid: sigma(1.5) ~ 0.82
    n = Neuron(2, activation="sigmoid")
    for w in n.w:
        w.data = 0.5
    n.b.data = 1.0
    out = n([1.0, 0.0])
    assert out.data == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert round(out.data, 2) == 0.82
    out.backward()
    s = out.data
    assert n.w[0].grad == pytest.approx(s * (1 - s) * 1.0)
    assert n.w[1].grad == 0.0
    assert n.b.grad == pytest.approx(s * (1 - s))


@settings(max_examples=15, deadline=None)
@given(
    # micrograd itself cannot chain a one-neuron hidden layer, so hidden sizes start at 2
    hidden=st.lists(st.integers(2, 4), max_size=2),
    last=st.integers(1, 3),
    x=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
    seed=st.integers(0, 100),
)
def test_mlp_matches_micrograd_forward_and_gradients(hidden, last, x, seed):
    sizes = hidden + [last]
    mg_engine = pytest.importorskip("micrograd.engine")
    mg_nn = pytest.importorskip("micrograd.nn")
    ours = MLP(3, sizes, seed=seed)
    theirs = mg_nn.MLP(3, sizes)
    assert len(ours.parameters()) == len(theirs.parameters())
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        q.data = p.data
    out = ours(x)
    ref = theirs([mg_engine.Value(v) for v in x])
    outs = out if isinstance(out, list) else [out]
    refs = ref if isinstance(ref, list) else [ref]
    total = sum(outs, Value(0.0))
    ref_total = sum(refs, mg_engine.Value(0.0))
    assert total.data == pytest.approx(ref_total.data, rel=1e-12, abs=1e-12)
    total.backward()
    ref_total.backward()
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.grad == pytest.approx(q.grad, rel=1e-9, abs=1e-12)


def test_parameter_count_repr_and_zero_grad():
    model = MLP(3, [4, 4, 1], seed=0)
    assert len(model.parameters()) == (3 + 1) * 4 + (4 + 1) * 4 + (4 + 1)
    assert "ReluNeuron(3)" in repr(model) and "LinearNeuron(4)" in repr(model)
    model([1.0, 2.0, 3.0]).backward()
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    layer = Layer(2, 3)
    assert len(layer([1.0, 1.0])) == 3


def test_mlp_learns_a_tiny_dataset_with_gradient_descent():
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP(3, [4, 4, 1], activation="tanh", seed=1)

    def loss():
        return sum(((model(x) - y) ** 2 for x, y in zip(xs, ys, strict=True)), Value(0.0))

    first = loss().data
    for _ in range(60):
        value = loss()
        model.zero_grad()
        value.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
    assert loss().data < 0.1 * first


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="nin"):
        Neuron(0)
    with pytest.raises(ValueError, match="expects 2 inputs"):
        Neuron(2)([1.0])
    with pytest.raises(ValueError, match="Unknown activation"):
        Neuron(2, activation="cube")
