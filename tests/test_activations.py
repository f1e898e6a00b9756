"""Activations: values against PyTorch, gradients (gradcheck), names and lookup."""

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_mlp import activations, numpy_ops
from tinygrad_mlp.engine import Value
from tinygrad_mlp.testing import gradcheck, gradgradcheck

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

NAMES = [
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "sigmoid",
    "tanh",
    "softplus",
    "softmax",
    "swish",
    "gelu",
    "relu6",
    "hard_sigmoid",
    "exponential",
    "mish",
    "log_softmax",
]

# away from the kinks of relu-like functions (0, and 6 and -3 for relu6/hard_sigmoid)
away_from_zero = (
    st.floats(0.05, 4.0)
    .filter(lambda m: abs(m - 3.0) > 0.05)
    .flatmap(lambda m: st.sampled_from([m, -m]))
)


def inputs(elements=away_from_zero):
    shape = st.sampled_from([(4,), (2, 3), (1, 5)])
    return shape.flatmap(lambda s: arrays(np.float64, s, elements=elements))


@pytest.mark.parametrize("name", NAMES)
@given(x=inputs())
def test_gradients(name, x):
    fn = activations.get(name)
    assert gradcheck(fn, x)


@given(x=inputs(st.floats(-3, 3)))
def test_gelu_and_erf_second_order(x):
    """The erf rule is written with engine ops, so it differentiates again."""
    assert gradgradcheck(activations.gelu, x)
    assert gradgradcheck(lambda v: activations.gelu(v, approximate=True), x)


def test_erf_matches_math():
    x = np.linspace(-4, 4, 17)
    np.testing.assert_allclose(activations.erf(Value(x)).data, [math.erf(v) for v in x])
    out = activations.erf(Value(x.astype(np.float32)))
    assert out.dtype == np.float32
    # the pure-Python fallback (used without SciPy) gives the same numbers
    np.testing.assert_allclose(numpy_ops._erf_elementwise(x), [math.erf(v) for v in x])


@needs_torch
@given(x=inputs(st.floats(-20, 20)))
def test_values_match_torch(x):
    tx = torch.tensor(x)
    expected = {
        "linear": tx,
        "relu": F.relu(tx),
        "leaky_relu": F.leaky_relu(tx, 0.2),  # Keras 3's default slope
        "elu": F.elu(tx),
        "selu": F.selu(tx),
        "sigmoid": torch.sigmoid(tx),
        "tanh": torch.tanh(tx),
        "softplus": F.softplus(tx, threshold=100),
        "softmax": F.softmax(tx, dim=-1),
        "swish": F.silu(tx),
        "gelu": F.gelu(tx),  # exact, erf-based, like Keras' default
        "relu6": F.relu6(tx),
        "hard_sigmoid": F.hardsigmoid(tx),
        "exponential": torch.exp(tx),
        "mish": F.mish(tx),
        "log_softmax": F.log_softmax(tx, dim=-1),
    }
    for name, ref in expected.items():
        got = activations.get(name)(Value(x)).data
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    got = activations.gelu(Value(x), approximate=True).data
    np.testing.assert_allclose(got, F.gelu(tx, approximate="tanh").numpy(), rtol=1e-9, atol=1e-12)


def test_float32_stays_float32():
    x = Value(np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3))
    for name in NAMES:
        assert activations.get(name)(x).dtype == np.float32, name


def test_names_and_lookup():
    for name in NAMES:
        fn = activations.get(name)
        assert fn.__name__ == name
        assert activations.serialize(fn) == name
        assert activations.deserialize(activations.serialize(fn)) is fn
    assert activations.get(None) is activations.linear
    assert activations.get("silu") is activations.swish
    assert activations.get("ReLU") is activations.relu
    assert activations.serialize(None) == "linear"

    def custom(x):
        return x * 2

    assert activations.get(custom) is custom
    assert activations.serialize(custom) == "custom"
    with pytest.raises(ValueError, match="Unknown activation function: 'rellu'.*relu"):
        activations.get("rellu")
    with pytest.raises(TypeError, match="received|expected"):
        activations.get(3)


def test_softmax_rows_sum_to_one_for_huge_inputs():
    out = activations.softmax(Value(np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]]))).data
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_allclose(out[1], 1 / 3)


def test_relu_max_value():
    out = activations.relu(Value(np.array([-1.0, 3.0, 9.0])), max_value=6.0)
    np.testing.assert_array_equal(out.data, [0.0, 3.0, 6.0])


def test_accepts_arrays():
    np.testing.assert_array_equal(activations.relu(np.array([-1.0, 2.0])).data, [0.0, 2.0])


def test_docstring_examples():
    assert doctest.testmod(activations).failed == 0
