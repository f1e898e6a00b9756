"""Tests for tinygrad_mlp.ops: NumPy's op set, each against finite differences and PyTorch.

Every op is one row of a table and one property test: hypothesis draws the
shapes (with broadcasting for the binary ops) and values inside the op's
smooth domain, ``gradcheck`` compares with central differences, and
``assert_matches_torch`` with PyTorch autograd in float64 (forward and
gradient, rtol 1e-6). Smooth ops are checked one order up with
``gradgradcheck``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from peers import F, assert_matches_torch, axes_for, check, dims_of, require_torch, torch

import tinygrad_mlp as tm
from tinygrad_mlp import Value
from tinygrad_mlp.testing import (
    arrays_for,
    broadcastable_values,
    gradgradcheck,
    small_shapes,
    values,
)


def floats(lo, hi):
    return st.floats(lo, hi)


def away_from_zero(lo, hi):
    return st.tuples(floats(lo, hi), st.booleans()).map(lambda t: -t[0] if t[1] else t[0])


# name: (ours, PyTorch's, the element strategy where the op is smooth, check 2nd order)
UNARY = {
    "sin": (tm.sin, torch.sin if torch else None, None, True),
    "cos": (tm.cos, torch.cos if torch else None, None, True),
    "tan": (tm.tan, torch.tan if torch else None, floats(-1.2, 1.2), True),
    "arcsin": (tm.arcsin, torch.asin if torch else None, floats(-0.9, 0.9), True),
    "arccos": (tm.arccos, torch.acos if torch else None, floats(-0.9, 0.9), True),
    "arctan": (tm.arctan, torch.atan if torch else None, None, True),
    "sinh": (tm.sinh, torch.sinh if torch else None, None, True),
    "cosh": (tm.cosh, torch.cosh if torch else None, None, True),
    "arctanh": (tm.arctanh, torch.atanh if torch else None, floats(-0.9, 0.9), True),
    "log1p": (tm.log1p, torch.log1p if torch else None, floats(-0.5, 3.0), True),
    "expm1": (tm.expm1, torch.expm1 if torch else None, None, True),
    "log2": (tm.log2, torch.log2 if torch else None, floats(0.5, 3.0), True),
    "log10": (tm.log10, torch.log10 if torch else None, floats(0.5, 3.0), True),
    "exp2": (tm.exp2, torch.exp2 if torch else None, None, True),
    "sign": (tm.sign, torch.sign if torch else None, away_from_zero(0.1, 3.0), False),
    "square": (tm.square, torch.square if torch else None, None, True),
    "reciprocal": (
        tm.reciprocal,
        torch.reciprocal if torch else None,
        away_from_zero(0.5, 3),
        True,
    ),
    "erf": (tm.erf, torch.erf if torch else None, None, True),
    "logsigmoid": (tm.logsigmoid, F.logsigmoid if F else None, None, True),
    "hardtanh": (tm.hardtanh, F.hardtanh if F else None, "clip", False),
    "softsign": (tm.softsign, F.softsign if F else None, away_from_zero(0.1, 3.0), True),
    "silu": (tm.silu, F.silu if F else None, None, True),
    "swish": (tm.swish, F.silu if F else None, None, True),
    "gelu": (tm.gelu, F.gelu if F else None, None, True),
    "gelu tanh": (
        lambda x: tm.gelu(x, approximate="tanh"),
        (lambda t: F.gelu(t, approximate="tanh")) if F else None,
        None,
        True,
    ),
    "mish": (tm.mish, F.mish if F else None, None, True),
    "celu": (
        lambda x: tm.celu(x, alpha=0.7),
        (lambda t: F.celu(t, alpha=0.7)) if F else None,
        away_from_zero(0.1, 3.0),
        True,
    ),
    "hard_sigmoid": (tm.hard_sigmoid, F.hardsigmoid if F else None, floats(-2.9, 2.9), False),
}


def _elements(domain):
    return domain if domain is None or isinstance(domain, str) else domain


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary(name, data):
    """Scalar Values (shape None) and tensors of any small shape."""
    ours, theirs, domain, _ = UNARY[name]
    shape = data.draw(st.one_of(st.none(), small_shapes()))
    x = data.draw(values(shape=shape, elements=_elements(domain)))
    out = ours(x)
    assert out.is_scalar == x.is_scalar  # scalars stay micrograd-style floats
    check(ours, x, torch_fn=theirs)


@pytest.mark.parametrize("name", sorted(n for n, row in UNARY.items() if row[3]))
@given(data=st.data())
def test_unary_second_order(name, data):
    ours, _, domain, _ = UNARY[name]
    x = data.draw(values(shape=small_shapes(max_dims=2), elements=_elements(domain)))
    assert gradgradcheck(ours, x)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_methods_are_the_functions(name):
    method = name.split()[0]
    if not hasattr(Value, method):
        pytest.fail(f"Value has no method {method}")
    x = Value(np.array([0.25, -0.5]))
    np.testing.assert_array_equal(getattr(x, method)().data, getattr(tm, method)(x).data)


# the engine's own elementwise ops, at the same special values
ENGINE_UNARY = {
    "exp": (lambda x: x.exp(), torch.exp if torch else None),
    "log": (lambda x: x.log(), torch.log if torch else None),
    "sqrt": (lambda x: x.sqrt(), torch.sqrt if torch else None),
    "abs": (lambda x: x.abs(), torch.abs if torch else None),
    "tanh": (lambda x: x.tanh(), torch.tanh if torch else None),
    "sigmoid": (lambda x: x.sigmoid(), torch.sigmoid if torch else None),
    "relu": (lambda x: x.relu(), torch.relu if torch else None),
    "leaky_relu": (lambda x: x.leaky_relu(0.2), (lambda t: F.leaky_relu(t, 0.2)) if F else None),
    "elu": (lambda x: x.elu(0.7), (lambda t: F.elu(t, 0.7)) if F else None),
    "selu": (lambda x: x.selu(), F.selu if F else None),
    "softplus": (lambda x: x.softplus(), F.softplus if F else None),
    "clip": (lambda x: x.clip(-1.0, 1.0), (lambda t: t.clip(-1.0, 1.0)) if torch else None),
    "square by **": (lambda x: x**2, (lambda t: t**2) if torch else None),
    "reciprocal by /": (lambda x: 1.0 / x, (lambda t: 1.0 / t) if torch else None),
}
SPECIAL_CASES = {**{k: v[:2] for k, v in UNARY.items()}, **ENGINE_UNARY}

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 3.0, -3.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(SPECIAL_CASES))
def test_unary_at_special_values_match_pytorch(name):
    """NaN, infinities, signed zeros and kinks: the same values and gradients as PyTorch."""
    require_torch()
    ours, theirs = SPECIAL_CASES[name]
    x = Value(SPECIAL.copy())
    out = ours(x)
    out.backward(np.ones(out.shape))
    t = torch.tensor(SPECIAL, requires_grad=True)
    tout = theirs(t)
    tout.backward(torch.ones_like(tout))
    expected = tout.detach().numpy()
    if name == "sign":  # NumPy's sign(NaN) is NaN; PyTorch's is 0. The op is NumPy's
        expected = np.where(np.isnan(SPECIAL), np.nan, expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6, equal_nan=True)
    for k, value in enumerate(SPECIAL):  # the scalar path agrees with the tensor path
        s = Value(float(value))
        r = ours(s)
        r.backward()
        np.testing.assert_allclose(r.data, out.data[k], equal_nan=True, err_msg=f"at {value}")
        np.testing.assert_allclose(s.grad, x.grad[k], equal_nan=True, err_msg=f"at {value}")


# ----------------------------------------------------------------------------
# two inputs, broadcasting

BINARY = {
    "maximum": (tm.maximum, torch.maximum if torch else None),
    "minimum": (tm.minimum, torch.minimum if torch else None),
    "logaddexp": (tm.logaddexp, torch.logaddexp if torch else None),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcastable_values(2, elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.5])))
def test_binary_with_ties(name, pair):
    """Values from a small set, so ties are frequent: the gradient splits as PyTorch's."""
    ours, theirs = BINARY[name]
    check(ours, *pair, torch_fn=theirs)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcastable_values(2, elements="max"))
def test_binary(name, pair):
    """Multiples of 0.05: ties are exact, never nearer than finite differences can see."""
    ours, theirs = BINARY[name]
    check(ours, *pair, torch_fn=theirs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_with_nan_and_inf_match_pytorch(name):
    ours, theirs = BINARY[name]
    a = np.array([np.nan, 1.0, np.inf, -np.inf, 2.0, np.nan])
    b = np.array([1.0, np.nan, np.inf, -np.inf, 2.0, np.nan])
    assert_matches_torch(ours, theirs, a, b)


def test_logaddexp_is_finite_for_large_inputs():
    a, b = Value(np.array([1000.0, -1000.0])), Value(np.array([999.0, -1001.0]))
    out = tm.logaddexp(a, b)
    np.testing.assert_allclose(out.data, np.logaddexp(a.data, b.data))
    out.sum().backward()
    assert np.isfinite(a.grad).all() and np.isfinite(b.grad).all()


@given(broadcastable_values(2))
def test_binary_second_order(pair):
    assert gradgradcheck(tm.logaddexp, *pair)


# ----------------------------------------------------------------------------
# reductions


def _torch_prod(t, dims, keep):
    dims = sorted((d % t.ndim for d in dims), reverse=True) if t.ndim else []
    for d in dims:
        t = t.prod(dim=d, keepdim=keep)
    return t


@given(st.booleans(), st.integers(0, 1), st.data())
def test_var_std(keepdims, ddof, data):
    x = data.draw(arrays_for("max", small_shapes(min_dims=1)))  # distinct: std > 0
    axis = data.draw(axes_for(x.ndim))
    dims = dims_of(axis, x.ndim)
    n = math.prod(x.shape[d] for d in (dims if isinstance(dims, tuple) else (dims,)))
    if n - ddof <= 0 or n < 2:  # one element has std 0, whose gradient is NaN (PyTorch too)
        return
    for name in ("var", "std"):
        check(
            lambda v, name=name: getattr(tm, name)(v, axis=axis, ddof=ddof, keepdims=keepdims),
            x,
            torch_fn=lambda t, name=name: getattr(torch, name)(
                t, dim=dims, correction=ddof, keepdim=keepdims
            ),
        )
        assert gradgradcheck(lambda v, name=name: getattr(v, name)(axis=axis, ddof=ddof), x)


def test_var_with_too_few_elements_is_nan_with_numpy_warning():
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        out = Value(np.array([2.0])).var(ddof=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(out.data) and np.isnan(np.var([2.0], ddof=1))


@given(st.booleans(), st.data())
def test_prod_with_zeros(keepdims, data):
    """Values from a set with 0, so several zeros in one product occur."""
    x = data.draw(
        arrays(
            np.float64, small_shapes(min_dims=1), elements=st.sampled_from([0.0, 0.5, -2.0, 1.5])
        )
    )
    axis = data.draw(axes_for(x.ndim))
    dims = dims_of(axis, x.ndim)
    dims = dims if isinstance(dims, tuple) else (dims,)
    check(
        lambda v: v.prod(axis=axis, keepdims=keepdims),
        x,
        torch_fn=lambda t: _torch_prod(t, dims, keepdims),
    )
    assert gradgradcheck(lambda v: v.prod(axis=axis), x)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@given(data=st.data())
def test_cumulative(name, data):
    x = data.draw(
        arrays(
            np.float64, small_shapes(min_dims=1), elements=st.sampled_from([0.0, 0.5, -2.0, 1.5])
        )
    )
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))

    def theirs(t):
        return getattr(torch, name)(
            t.reshape(-1) if axis is None else t, 0 if axis is None else axis
        )

    check(lambda v: getattr(v, name)(axis=axis), x, torch_fn=theirs)
    assert gradgradcheck(lambda v: getattr(v, name)(axis=axis), x)


@given(st.sampled_from(["argmax", "argmin"]), st.booleans(), st.data())
def test_arg_reductions_are_numpy_integers(name, keepdims, data):
    x = data.draw(
        arrays(np.float64, small_shapes(min_dims=1), elements=st.sampled_from([0.0, 1.0, 2.0]))
    )
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    got = getattr(Value(x), name)(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(got, getattr(np, name)(x, axis=axis, keepdims=keepdims))


def test_reductions_of_scalar_values():
    x = Value(2.0)
    for name in ("sum", "mean", "max", "min", "prod", "logsumexp"):
        out = getattr(x, name)()
        assert out.is_scalar and out.data == 2.0, name
    assert x.var().data == 0.0 and x.std(axis=0).data == 0.0
    y = x.sum() * 3.0
    y.backward()
    assert x.grad == 3.0
    with pytest.raises(np.exceptions.AxisError):
        x.sum(axis=1)


def test_int_and_float_of_one_element():
    assert int(Value(np.array([[3.7]]))) == 3 and float(Value(np.array([2.5]))) == 2.5
    assert int(Value(-2.2)) == -2
    with pytest.raises(ValueError, match="one element"):
        float(Value(np.ones(2)))


# ----------------------------------------------------------------------------
# shape ops


@given(data=st.data())
def test_flip_roll(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1)))
    axis = data.draw(axes_for(x.ndim))
    dims = dims_of(axis, x.ndim)
    dims = dims if isinstance(dims, tuple) else (dims,)
    check(lambda v: v.flip(axis), x, torch_fn=lambda t: torch.flip(t, dims))
    shift = data.draw(st.integers(-5, 5))
    one = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    check(lambda v: v.roll(shift, one), x, torch_fn=lambda t: torch.roll(t, shift, one))
    np.testing.assert_array_equal(tm.roll(x, shift, one).data, np.roll(x, shift, one))


@given(data=st.data())
def test_pad(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1, max_side=3)))
    width = data.draw(
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=x.ndim, max_size=x.ndim)
    )
    mode = data.draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    if mode == "reflect" and any(
        n == 1 and (b or a) for n, (b, a) in zip(x.shape, width, strict=True)
    ):
        mode = "edge"  # NumPy's reflect of one element repeats it; covered by edge
    np.testing.assert_array_equal(tm.pad(x, width, mode=mode).data, np.pad(x, width, mode=mode))
    flat = [n for pair in reversed(width) for n in pair]
    theirs = {"constant": "constant", "edge": "replicate", "wrap": "circular"}.get(mode)
    if theirs == "constant":
        check(
            lambda v: tm.pad(v, width, constant_values=1.5),
            x,
            torch_fn=lambda t: F.pad(t, flat, value=1.5),
        )
    else:  # PyTorch pads these modes only on batched images: finite differences alone
        from tinygrad_mlp.testing import gradcheck

        assert gradcheck(lambda v: tm.pad(v, width, mode=mode), x)


@given(data=st.data())
def test_repeat_tile(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1, max_side=3)))
    repeats = data.draw(st.integers(1, 3))
    axis = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    check(
        lambda v: v.repeat(repeats, axis),
        x,
        torch_fn=lambda t: torch.repeat_interleave(t, repeats, axis),
    )
    reps = tuple(data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    check(lambda v: v.tile(reps), x, torch_fn=lambda t: torch.tile(t, reps))
    np.testing.assert_array_equal(tm.tile(x, reps).data, np.tile(x, reps))


@given(data=st.data())
def test_squeeze_expand_swap_move(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1, max_side=2)))
    ones = tuple(i for i, n in enumerate(x.shape) if n == 1)
    check(lambda v: v.squeeze(), x, torch_fn=lambda t: t.squeeze())
    if ones:
        check(lambda v: v.squeeze(ones), x, torch_fn=lambda t: t.squeeze(ones))
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    check(lambda v: v.expand_dims(axis), x, torch_fn=lambda t: t.unsqueeze(axis))
    a, b = data.draw(st.integers(-x.ndim, x.ndim - 1)), data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda v: v.swapaxes(a, b), x, torch_fn=lambda t: torch.swapaxes(t, a, b))
    check(lambda v: v.moveaxis(a, b), x, torch_fn=lambda t: torch.moveaxis(t, a, b))
    assert tm.moveaxis(x, a, b).shape == np.moveaxis(x, a, b).shape


@given(data=st.data())
def test_split(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = x.shape[axis]
    sections = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    indices = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    for how in (sections, indices):
        pieces = tm.split(Value(x), how, axis)
        for ours, expected in zip(pieces, np.split(x, how, axis), strict=True):
            np.testing.assert_array_equal(ours.data, expected)
        check(
            lambda v, how=how: tm.concatenate(
                [p * (k + 1.0) for k, p in enumerate(v.split(how, axis))], axis
            ),
            x,
            torch_fn=lambda t, how=how: torch.cat(
                [p * (k + 1.0) for k, p in enumerate(torch.tensor_split(t, how, axis))], axis
            ),
        )


@given(data=st.data())
def test_diagonal_trace_triangles(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=2)))
    offset = data.draw(st.integers(-2, 2))
    a1 = data.draw(st.integers(0, x.ndim - 1))
    a2 = data.draw(st.integers(0, x.ndim - 1).filter(lambda a: a != a1))
    check(
        lambda v: v.diagonal(offset, a1, a2),
        x,
        torch_fn=lambda t: torch.diagonal(t, offset, a1, a2),
    )
    check(
        lambda v: v.trace(offset, a1, a2),
        x,
        torch_fn=lambda t: torch.diagonal(t, offset, a1, a2).sum(-1),
    )
    np.testing.assert_allclose(tm.trace(x, offset, a1, a2).data, np.trace(x, offset, a1, a2))
    k = data.draw(st.integers(-2, 2))
    check(lambda v: v.triu(k), x, torch_fn=lambda t: torch.triu(t, k))
    check(lambda v: v.tril(k), x, torch_fn=lambda t: torch.tril(t, k))


def test_shape_ops_refuse_bad_arguments():
    x = Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match="size"):
        x.squeeze(0)
    with pytest.raises(np.exceptions.AxisError):
        x.flip(2)
    with pytest.raises(ValueError, match="pad mode"):
        tm.pad(x, 1, mode="mean")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        tm.triu(Value(np.ones(3)))
    with pytest.raises(TypeError, match="tensor Value"):
        tm.flip(Value(1.0))


# ----------------------------------------------------------------------------
# products


@given(data=st.data())
def test_dot_outer(data):
    shapes = data.draw(
        st.sampled_from(
            [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 2, 3), (3,)),
             ((3,), (2, 3, 2)), ((2, 2, 3), (4, 3, 2)), ((), (2, 3)), ((2, 3), ())]
        )
    )  # fmt: skip
    a, b = (data.draw(arrays_for(None, s)) for s in shapes)
    np.testing.assert_allclose(tm.dot(a, b).data, np.dot(a, b), rtol=1e-12)
    letters = "abcdefgh"

    def torch_dot(t, u):
        if t.ndim == 0 or u.ndim == 0:
            return t * u
        ta = letters[: t.ndim]
        if u.ndim == 1:
            return torch.einsum(f"{ta},{ta[-1]}->{ta[:-1]}", t, u)
        ub = letters[t.ndim : t.ndim + u.ndim - 2] + ta[-1] + "z"
        return torch.einsum(f"{ta},{ub}->{ta[:-1]}{ub[:-2]}z", t, u)

    check(tm.dot, a, b, torch_fn=torch_dot)
    check(tm.outer, a, b, torch_fn=lambda t, u: torch.outer(t.reshape(-1), u.reshape(-1)))


@given(data=st.data())
def test_tensordot(data):
    a = data.draw(arrays_for(None, small_shapes(min_dims=1, max_side=3)))
    k = data.draw(st.integers(0, a.ndim))
    extra = data.draw(small_shapes(min_dims=0, max_dims=2, max_side=3))
    b = data.draw(arrays_for(None, a.shape[a.ndim - k :] + extra))
    check(lambda u, v: tm.tensordot(u, v, k), a, b, torch_fn=lambda t, s: torch.tensordot(t, s, k))
    if a.ndim >= 1 and b.ndim >= 1 and a.shape[0] == b.shape[-1]:
        check(
            lambda u, v: tm.tensordot(u, v, ([0], [-1])),
            a,
            b,
            torch_fn=lambda t, s: torch.tensordot(t, s, ([0], [s.ndim - 1])),
        )


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 2)]),
    ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]),
    ("iij,j->i", [(2, 2, 3), (3,)]),
    ("ijk,k->", [(2, 3, 4), (4,)]),
    ("i,jk->ijk", [(2,), (2, 3)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM)
@given(data=st.data())
def test_einsum(subscripts, shapes, data):
    operands = [data.draw(arrays_for(None, s)) for s in shapes]
    np.testing.assert_allclose(
        tm.einsum(subscripts, *operands).data, np.einsum(subscripts, *operands)
    )
    check(
        lambda *vs: tm.einsum(subscripts, *vs),
        *operands,
        torch_fn=lambda *ts: torch.einsum(subscripts, *ts),
    )
    assert gradgradcheck(lambda *vs: tm.einsum(subscripts, *vs), *operands)


def test_einsum_refuses_mismatched_operands():
    with pytest.raises(ValueError, match="size"):
        tm.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="operands"):
        tm.einsum("ij,jk->ik", np.ones((2, 3)))


# ----------------------------------------------------------------------------
# constructors


def test_constructors_match_numpy():
    cases = [
        (tm.zeros((2, 3)), np.zeros((2, 3))),
        (tm.ones(4), np.ones(4)),
        (tm.full((2,), 1.5), np.full((2,), 1.5)),
        (tm.arange(5), np.arange(5.0)),
        (tm.arange(1, 2, 0.25), np.arange(1, 2, 0.25)),
        (tm.eye(3, 4, k=1), np.eye(3, 4, k=1)),
        (tm.linspace(0, 1, 5), np.linspace(0, 1, 5)),
        (tm.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 4, endpoint=False)),
    ]
    for ours, expected in cases:
        assert isinstance(ours, Value) and not ours.requires_grad
        assert ours.dtype == np.float64
        np.testing.assert_array_equal(ours.data, expected)
    w = tm.zeros((2, 2), dtype=np.float32, requires_grad=True, label="w")
    assert w.requires_grad and w.dtype == np.float32 and w.label == "w"
    (w * 2.0).sum().backward()
    np.testing.assert_array_equal(w.grad, np.full((2, 2), 2.0, np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        tm.zeros(2, dtype=np.int64)


def test_functions_take_plain_numbers_and_arrays():
    np.testing.assert_allclose(tm.sin(np.array([0.0, 1.0])).data, np.sin([0.0, 1.0]))
    assert tm.maximum(1.0, 2.0).data == 2.0
    assert tm.exp(0.0).data == 1.0 and tm.sum(np.ones(3)).data == 3.0
