"""Tests for tinygrad_mlp.testing: checkers catch wrong rules; strategies keep their promises."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import tinygrad_mlp.testing as testing
from tinygrad_mlp import Function, Value
from tinygrad_mlp.testing import (
    SAFE_OPS,
    GradcheckError,
    arrays_for,
    broadcastable_values,
    gradcheck,
    gradgradcheck,
    matmul_pair,
    safe_elements,
    small_shapes,
    values,
)

# ----------------------------------------------------------------------------
# tiny ops with deliberately wrong rules, written as users write ops (Function)


class CubeWrong(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_values
        return g * 2.0 * x  # the true rule is 3 x^2


class ProductWrongForB(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_values
        return g * b, g * a * 0.5  # the second input's gradient is half what it should be


class SquareFirstOrderOnly(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, g):
        # first order right, but the input is used as raw data: under create_graph the
        # dependence on ``x`` is lost, so second derivatives come out wrong
        (x,) = ctx.saved_values
        return g * 2.0 * x.data


cube_wrong = CubeWrong.apply
product_wrong_for_b = ProductWrongForB.apply
square_first_order_only = SquareFirstOrderOnly.apply


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_gradcheck_reports_the_worst_element():
    x = np.array([0.1, 2.0, -1.0])  # |3x^2 - 2x| is largest at index 1: 12 vs 4
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: cube_wrong(v).sum(), x)
    message = str(info.value)
    assert "input 0" in message
    assert "index (1,)" in message
    analytic = float(re.search(r"analytic (\S+)", message).group(1).strip(","))
    numeric = float(re.search(r"numeric (\S+)", message).group(1).strip(","))
    assert analytic == pytest.approx(4.0)
    assert numeric == pytest.approx(12.0, rel=1e-6)
    assert "tolerance" in message and "3 of 3" in message


def test_gradcheck_names_the_wrong_input():
    a = np.array([[1.0, 2.0], [3.0, -4.0]])
    b = np.array([[0.5, -1.5], [2.0, 1.0]])
    with pytest.raises(GradcheckError, match=r"input 1 .*index \(1, 0\)"):
        gradcheck(product_wrong_for_b, a, b)
    # a correct gradient to input 0 passes when input 1 is a constant
    assert gradcheck(product_wrong_for_b, a, Value(b, requires_grad=False))


def test_gradcheck_without_raising():
    assert gradcheck(lambda v: cube_wrong(v), 1.5, raise_exception=False) is False
    assert gradcheck(lambda v: v * v * v, 1.5, raise_exception=False) is True


@given(values(shape=small_shapes(), elements="max"))
def test_gradcheck_accepts_correct_rules_and_rejects_wrong_ones(x):
    assert gradcheck(lambda v: (v * v * v).tanh(), x)
    # on this grid of multiples of 0.05, 3x^2 = 2x only at x = 0
    wrong_somewhere = bool(np.any(x.data != 0))
    assert gradcheck(lambda v: cube_wrong(v), x, raise_exception=False) is not wrong_somewhere


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_gradcheck_flags_nan_gradients():
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda v: (v * 0.0).sqrt(), np.array([1.0, 2.0]))


def test_gradcheck_leaves_inputs_alone():
    x = Value(np.array([1.0, 2.0], dtype=np.float32))
    before = x.data.copy()
    assert gradcheck(lambda v: (v * v).sum(), x, atol=1e-3, rtol=1e-3)
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None and x.data.dtype == np.float32


def test_gradgradcheck_catches_a_rule_that_only_works_at_first_order():
    x = np.array([0.5, -1.0, 2.0])
    assert gradcheck(lambda v: square_first_order_only(v).sum(), x)
    with pytest.raises(GradcheckError, match="second-order gradient mismatch for input 0"):
        gradgradcheck(lambda v: square_first_order_only(v).sum(), x)
    assert gradgradcheck(lambda v: (v * v).sum(), x)


def test_the_module_docstring_example_runs():
    """The example users are told to paste must itself pass."""
    block = testing.__doc__.split("::", 1)[1].split("``gradcheck`` raises", 1)[0]
    namespace: dict = {}
    exec(textwrap.dedent(block), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()


# ----------------------------------------------------------------------------
# strategies


@given(values(shape=(2, 3)), values(shape=None), values(shape=(), dtype=np.float32))
def test_values_shapes_and_dtypes(t, s, z):
    assert t.shape == (2, 3) and t.dtype == np.float64 and t.requires_grad
    assert type(s.data) is float and s.is_scalar
    assert z.shape == () and z.dtype == np.float32 and not z.is_scalar
    assert np.all(np.abs(t.data) <= 3.0)


@given(values(requires_grad=False), values(shape=small_shapes(min_dims=2, max_dims=2)))
def test_values_default_shapes(v, m):
    assert not v.requires_grad and v.ndim <= 3 and all(1 <= n <= 4 for n in v.shape)
    assert m.ndim == 2


@given(st.sampled_from(SAFE_OPS), st.data())
def test_safe_elements_stay_in_the_safe_domain(op, data):
    x = data.draw(arrays_for(op, small_shapes(min_dims=1)))
    assert np.all(np.isfinite(x)) and np.all(np.abs(x) <= 3.0)
    if op in ("log", "sqrt", "pow"):
        assert np.all(x >= 0.5)
    elif op in ("max", "min", "clip"):
        assert len(np.unique(x)) == x.size  # no ties
        assert np.all(np.abs(np.abs(x) - 1.0) >= 0.1 - 1e-12)  # away from clip(-1, 1)'s kinks
        assert np.allclose(x * 20, np.round(x * 20))  # on a grid: gaps of at least 0.05
    else:
        assert np.all(np.abs(x) >= 0.1)


@given(values(shape=(4,), elements="log"), values(shape=None, elements=safe_elements("relu")))
def test_values_with_named_domains(v, s):
    assert np.all(v.data >= 0.5)
    assert abs(s.data) >= 0.1


@given(st.integers(1, 4), st.data())
def test_broadcastable_values_broadcast(num, data):
    vs = data.draw(broadcastable_values(num=num, elements="div"))
    assert len(vs) == num and all(isinstance(v, Value) for v in vs)
    np.broadcast_shapes(*[v.shape for v in vs])  # raises if they do not broadcast
    assert all(np.all(np.abs(v.data) >= 0.1) for v in vs)


def test_broadcastable_values_really_broadcast_sometimes():
    # some draw needs summing over a broadcast axis: differing shapes of one size
    find(broadcastable_values(2), lambda ab: ab[0].shape != ab[1].shape and ab[0].size > 1)


def test_broadcastable_values_checks_its_arguments():
    with pytest.raises(ValueError, match="2 elements for num=3"):
        broadcastable_values(3, elements=[None, "log"])


@given(matmul_pair())
def test_matmul_pair_is_compatible(ab):
    a, b = ab
    expected = np.matmul(a.data, b.data)  # raises if not compatible
    assert (a @ b).shape == expected.shape


@pytest.mark.parametrize(
    "wanted",
    [
        lambda a, b: a.ndim == 1,
        lambda a, b: b.ndim == 1,
        lambda a, b: a.ndim == b.ndim == 2,
        lambda a, b: a.ndim >= 3 and a.shape[:-2] != b.shape[:-2] and b.ndim >= 2,
    ],
    ids=["1-D left", "1-D right", "matrices", "broadcast batches"],
)
def test_matmul_pair_covers_every_case(wanted):
    find(matmul_pair(), lambda ab: wanted(*ab))


@given(
    values(dtype=np.float32, elements="div"),
    broadcastable_values(2, dtype=np.float32, elements=["log", "max"]),
    matmul_pair(dtype=np.float32),
)
def test_float32_strategies(v, ab, mm):
    assert v.dtype == np.float32 and np.all(np.abs(v.data) >= 0.1)
    assert all(x.dtype == np.float32 for x in (*ab, *mm))
    assert np.all(ab[0].data >= 0.5)
