"""Tests for tinygrad_mlp.engine: every op's gradient, graph control, dtypes, errors.

Each op family is one property test on top of ``check``: the engine's gradient
must match central differences (``gradcheck``) and PyTorch autograd in float64
(forward and gradients, rtol 1e-6) on hypothesis-drawn shapes with broadcasting.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import basic_indices, integer_array_indices
from peers import ATOL, RTOL, F, assert_matches_torch, axes_for, check, torch
from peers import dims_of as _dims

from tinygrad_mlp import Value, concatenate, detect_anomaly, grad, no_grad, stack, where
from tinygrad_mlp.testing import (
    arrays_for,
    broadcastable_values,
    gradcheck,
    gradgradcheck,
    matmul_pair,
    small_shapes,
    values,
)


def test_torch_is_available_for_comparisons():
    pytest.importorskip("torch")


scalar_or_shape = st.one_of(st.none(), small_shapes())


# ----------------------------------------------------------------------------
# arithmetic

BINARY = {
    "+": (lambda a, b: a + b, [None, None]),
    "-": (lambda a, b: a - b, [None, None]),
    "*": (lambda a, b: a * b, [None, None]),
    "/": (lambda a, b: a / b, [None, "div"]),
    "**": (lambda a, b: a**b, ["pow", None]),  # a Value exponent: gradient to both
}


@given(st.sampled_from(sorted(BINARY)), st.data())
def test_binary_ops_broadcast(name, data):
    fn, domains = BINARY[name]
    a, b = data.draw(broadcastable_values(2, elements=domains))
    check(fn, a, b)


@given(st.sampled_from(sorted(BINARY)), st.data())
def test_binary_ops_scalar_with_tensor(name, data):
    fn, (da, db) = BINARY[name]
    """Scalar Values (shape None) with scalars and with tensors, in both orders."""
    shape = data.draw(small_shapes())
    sa, sb = data.draw(st.sampled_from([(None, None), (None, shape), (shape, None)]))
    a = data.draw(values(shape=sa, elements=da))
    b = data.draw(values(shape=sb, elements=db))
    check(fn, a, b)


@given(values(elements="pow"), st.sampled_from([2, 3, 0.5, -1.5, 2.5, 0]))
def test_pow_number_exponent(x, p):
    check(lambda v: v**p, x)


REFLECTED = {
    "radd": lambda c: lambda v: c + v,
    "rsub": lambda c: lambda v: c - v,
    "rmul": lambda c: lambda v: c * v,
    "rtruediv": lambda c: lambda v: c / v,
    "rpow": lambda c: lambda v: c**v,
}


@given(
    st.sampled_from(sorted(REFLECTED)),
    broadcastable_values(2, elements=["pow", "div"]),
    st.booleans(),
)
def test_reflected_ops_with_numbers_and_arrays(name, pair, as_number):
    """``2.0 ** v``, ``1 - v``, ``np.ones(3) * v``: the plain left operand gets no gradient."""
    c, v = pair
    left = float(c.data.reshape(-1)[0]) if as_number else c.data
    out = REFLECTED[name](left)(v)
    assert isinstance(out, Value)
    check(
        REFLECTED[name](left),
        v,
        torch_fn=lambda t: REFLECTED[name](left if as_number else torch.as_tensor(left))(t),
    )


def test_array_on_the_left_gives_a_value():
    v = Value(np.array([1.0, 2.0, 3.0]))
    for out in (np.ones(3) * v, np.ones(3) - v, np.ones((2, 3)) + v, np.ones(3) @ v):
        assert isinstance(out, Value)
    (np.full(3, 2.0) * v).sum().backward()
    np.testing.assert_array_equal(v.grad, [2.0, 2.0, 2.0])


# ----------------------------------------------------------------------------
# elementwise functions: (ours, torch's or None for the same code, safe domain)

UNARY = {
    "neg": (lambda x: -x, None, None),
    "exp": (lambda x: x.exp(), None, None),
    "log": (lambda x: x.log(), None, "log"),
    "sqrt": (lambda x: x.sqrt(), None, "sqrt"),
    "abs": (lambda x: x.abs(), None, "abs"),
    "builtin abs": (lambda x: abs(x), None, "abs"),
    "tanh": (lambda x: x.tanh(), None, None),
    "sigmoid": (lambda x: x.sigmoid(), None, None),
    "relu": (lambda x: x.relu(), None, "relu"),
    "leaky_relu": (lambda x: x.leaky_relu(0.2), lambda t: F.leaky_relu(t, 0.2), "leaky_relu"),
    "elu": (lambda x: x.elu(0.7), lambda t: F.elu(t, 0.7), "elu"),
    "selu": (lambda x: x.selu(), lambda t: F.selu(t), "selu"),
    "softplus": (lambda x: x.softplus(), lambda t: F.softplus(t), None),
    "clip": (lambda x: x.clip(-1.0, 1.0), lambda t: t.clip(-1.0, 1.0), "clip"),
    "clip min only": (lambda x: x.clip(min=-1.0), lambda t: t.clip(min=-1.0), "clip"),
    "clip max only": (lambda x: x.clip(max=1.0), lambda t: t.clip(max=1.0), "clip"),
}


@given(st.sampled_from(sorted(UNARY)), st.data())
def test_unary_ops(name, data):
    """Tensors of any small shape, and micrograd-style scalar Values (shape None)."""
    fn, torch_fn, domain = UNARY[name]
    x = data.draw(values(shape=data.draw(scalar_or_shape), elements=domain))
    check(fn, x, torch_fn=torch_fn)


def test_unary_ops_at_extremes_are_finite():
    x = Value(np.array([-800.0, -30.0, 0.0, 30.0, 800.0]))
    for out in (x.sigmoid(), x.softplus(), x.tanh(), x.elu(), x.softmax(), x.log_softmax()):
        assert np.isfinite(out.data).all()
    s = Value(np.array([-1000.0, 0.0, 1000.0])).sigmoid()
    np.testing.assert_allclose(s.data, [0.0, 0.5, 1.0])


# ----------------------------------------------------------------------------
# reductions and softmax

REDUCTIONS = {
    "sum": lambda t, dims, keep: t.sum(dim=dims, keepdim=keep),
    "mean": lambda t, dims, keep: t.mean(dim=dims, keepdim=keep),
    "max": lambda t, dims, keep: torch.amax(t, dim=dims, keepdim=keep),
    "min": lambda t, dims, keep: torch.amin(t, dim=dims, keepdim=keep),
    "logsumexp": lambda t, dims, keep: torch.logsumexp(t, dim=dims, keepdim=keep),
}


@given(st.sampled_from(sorted(REDUCTIONS)), st.booleans(), st.data())
def test_reductions(name, keepdims, data):
    """axis None / int / tuple, keepdims; distinct elements so max/min have no ties."""
    x = data.draw(arrays_for("max", small_shapes(min_dims=1)))
    axis = data.draw(axes_for(x.ndim))
    dims = _dims(axis, x.ndim)
    check(
        lambda v: getattr(v, name)(axis=axis, keepdims=keepdims),
        x,
        torch_fn=lambda t: REDUCTIONS[name](t, dims, keepdims),
    )


def _torch_reduce(name, t, dims, keep):
    """PyTorch's reduction over ``dims``; max/min slice by slice with ``torch.max(slice)``.

    The full-reduction ``torch.max`` shares the gradient among ties and sends it
    to a NaN; ``amax`` (ties) spreads NaN over the slice and ``max(dim)`` picks
    one tie, so the engine's rule is PyTorch's full reduction, applied per slice.
    """
    if name in ("sum", "mean", "logsumexp"):
        return REDUCTIONS[name](t, dims, keep)
    dims = tuple(d % t.ndim for d in dims)
    rest = [d for d in range(t.ndim) if d not in dims]
    moved = t.permute(rest + list(dims)).reshape(-1, math.prod(t.shape[d] for d in dims))
    if moved.shape[0] == 0:  # no slices at all: an empty result either way
        return REDUCTIONS[name](t, dims, keep)
    fn = torch.max if name == "max" else torch.min
    out = torch.stack([fn(row) for row in moved]).reshape([t.shape[d] for d in rest])
    if keep:
        for d in sorted(dims):
            out = out.unsqueeze(d)
    return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@given(
    st.sampled_from(sorted(REDUCTIONS)),
    st.booleans(),
    st.data(),
)
def test_reductions_with_ties_nan_empty_shapes_and_negative_axes(name, keepdims, data):
    """Elements from {-1, 0, 1, NaN} (ties everywhere), sides of 0 included."""
    from hypothesis.extra.numpy import array_shapes, arrays

    x = data.draw(
        arrays(
            np.float64,
            array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3),
            elements=st.sampled_from([-1.0, 0.0, 1.0, math.nan]),
        )
    )
    axis = data.draw(axes_for(x.ndim))
    dims = _dims(axis, x.ndim)
    dims = dims if isinstance(dims, tuple) else (dims,)
    reduced = math.prod(x.shape[d] for d in dims)
    if name in ("max", "min") and reduced == 0:
        with pytest.raises(ValueError):
            getattr(Value(x), name)(axis=axis)
        return
    assert_matches_torch(
        lambda v: getattr(v, name)(axis=axis, keepdims=keepdims),
        lambda t: _torch_reduce(name, t, dims, keepdims),
        x,
    )


@given(st.sampled_from(sorted(REDUCTIONS)), st.data())
def test_out_of_range_axes_always_raise(name, data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=0)))
    bad = data.draw(
        st.one_of(st.integers(x.ndim, x.ndim + 3), st.integers(-x.ndim - 3, -x.ndim - 1))
    )
    if x.ndim == 0 and bad in (0, -1):
        return
    with pytest.raises(np.exceptions.AxisError):
        getattr(Value(x), name)(axis=bad)


KINKS = {
    "relu": (lambda x: x.relu(), None),
    "abs": (lambda x: x.abs(), None),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda t: F.leaky_relu(t, 0.1)),
    "elu": (lambda x: x.elu(), lambda t: F.elu(t)),
    "clip": (lambda x: x.clip(-1.0, 1.0), lambda t: t.clip(-1.0, 1.0)),
    "max with ties": (lambda x: x.max(), lambda t: torch.amax(t)),
    "min with ties": (lambda x: x.min(axis=0), lambda t: torch.amin(t, dim=0)),
}


@pytest.mark.parametrize("name", sorted(KINKS))
def test_gradients_at_kinks_follow_pytorch(name):
    """Where the derivative is undefined, the engine picks PyTorch's (sub)gradient."""
    pytest.importorskip("torch")
    fn, torch_fn = KINKS[name]
    x = np.array([-1.0, 0.0, 1.0, 1.0, -1.0, 0.0])
    assert_matches_torch(fn, torch_fn or fn, x)


def test_max_ties_share_the_gradient():
    x = Value(np.array([1.0, 3.0, 3.0, 2.0]))
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


@given(st.sampled_from(["softmax", "log_softmax"]), st.data())
def test_softmax(name, data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(
        lambda v: getattr(v, name)(axis=axis),
        x,
        torch_fn=lambda t: getattr(torch, name)(t, dim=axis),
    )


# ----------------------------------------------------------------------------
# shape ops and indexing


@given(st.data())
def test_reshape_transpose(data):
    x = data.draw(arrays_for(None, small_shapes(min_dims=1)))
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    new_shape = tuple(int(n) for n in np.asarray(x.shape)[list(perm)])
    check(lambda v: v.reshape(new_shape) * 2.0, x, torch_fn=lambda t: t.reshape(new_shape) * 2.0)
    check(lambda v: v.reshape(-1), x, torch_fn=lambda t: t.reshape(-1))
    check(lambda v: v.transpose(perm), x, torch_fn=lambda t: t.permute(perm))
    check(lambda v: v.transpose(*perm), x, torch_fn=lambda t: t.permute(perm))
    reverse = tuple(reversed(range(x.ndim)))
    check(lambda v: v.T, x, torch_fn=lambda t: t.permute(reverse))
    check(lambda v: v.transpose(), x, torch_fn=lambda t: t.permute(reverse))


def _torch_take(shape, index):
    """PyTorch's version of ``x[index]``: gather the flat positions NumPy selects."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    flat = torch.as_tensor(np.array(positions).reshape(-1), dtype=torch.long)
    return lambda t: t.reshape(-1)[flat].reshape(np.shape(positions))


@given(st.data())
def test_basic_indexing(data):
    """Integers, slices (negative steps too), Ellipsis and None."""
    x = data.draw(arrays_for(None, small_shapes(min_dims=1)))
    index = data.draw(basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    check(lambda v: v[index], x, torch_fn=_torch_take(x.shape, index))


@given(st.data())
def test_integer_array_indexing_with_repeats(data):
    """Gathering the same element several times adds up its gradient."""
    x = data.draw(arrays_for(None, small_shapes(min_dims=1)))
    index = data.draw(
        st.one_of(
            integer_array_indices(x.shape, result_shape=small_shapes(min_dims=1, max_dims=2)),
            st.lists(st.integers(-x.shape[0], x.shape[0] - 1), min_size=1, max_size=6).map(
                np.array
            ),
        )
    )
    check(lambda v: v[index], x, torch_fn=_torch_take(x.shape, index))


def test_indexing_repeats_accumulate():
    x = Value(np.array([1.0, 2.0, 3.0]))
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@given(st.data())
def test_concatenate(data):
    base = data.draw(small_shapes(min_dims=1))
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    k = axis % len(base)
    pieces = [
        data.draw(arrays_for(None, base[:k] + (data.draw(st.integers(1, 3)),) + base[k + 1 :]))
        for _ in range(data.draw(st.integers(1, 3)))
    ]
    check(
        lambda *vs: concatenate(vs, axis=axis),
        *pieces,
        torch_fn=lambda *ts: torch.cat(ts, dim=axis),
    )


@given(st.data())
def test_stack(data):
    shape = data.draw(st.one_of(st.none(), small_shapes()))
    ndim = 0 if shape is None else len(shape)
    axis = data.draw(st.integers(-(ndim + 1), ndim))
    pieces = [data.draw(values(shape=shape)) for _ in range(data.draw(st.integers(1, 3)))]
    check(lambda *vs: stack(vs, axis=axis), *pieces, torch_fn=lambda *ts: torch.stack(ts, axis))


@given(broadcastable_values(3))
def test_where(abc):
    a, b, c = abc
    condition = c.data > 0
    check(
        lambda x, y: where(condition, x, y),
        a,
        b,
        torch_fn=lambda x, y: torch.where(torch.as_tensor(condition), x, y),
    )
    check(
        lambda x: where(condition, x, 0.5),
        a,
        torch_fn=lambda x: torch.where(torch.as_tensor(condition), x, 0.5),
    )


@given(matmul_pair())
def test_matmul(ab):
    """1-D operands, matrices, and batches that broadcast."""
    a, b = ab
    check(lambda x, y: x @ y, a, b)


@given(matmul_pair(requires_grad=False), st.booleans())
def test_matmul_with_a_data_operand(ab, left_is_data):
    a, b = ab
    (a if left_is_data else b).requires_grad = False
    (b if left_is_data else a).requires_grad = True
    check(lambda x, y: x @ y, a, b)


def test_matmul_does_not_compute_the_gradient_of_data():
    w = Value(np.ones((3, 2)))
    x = Value(np.ones((4, 3)), requires_grad=False)
    out = x @ w
    grads = out._backward(np.ones((4, 2)), out.data, out._ctx, x.data, w.data)
    assert grads[0] is None
    out.sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, np.full((3, 2), 4.0))


# ----------------------------------------------------------------------------
# scalar mode, micrograd's way


def _micrograd_readme(value_cls):
    """The example from micrograd's README (values printed there: 24.7041, 138.8338, 645.5773)."""
    a = value_cls(-4.0)
    b = value_cls(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g


def test_micrograd_readme_example():
    a, b, g = _micrograd_readme(Value)
    g.backward()
    assert g.data == pytest.approx(24.7041, abs=5e-5)
    assert a.grad == pytest.approx(138.8338, abs=5e-5)
    assert b.grad == pytest.approx(645.5773, abs=5e-5)
    assert type(a.grad) is float and type(b.grad) is float and type(g.data) is float


def test_micrograd_readme_example_matches_torch():
    torch = pytest.importorskip("torch")
    a, b, g = _micrograd_readme(Value)
    g.backward()
    ta, tb, tg = _micrograd_readme(
        lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)
    )
    tg.backward()
    assert g.data == pytest.approx(tg.item(), rel=1e-12)
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-12)


def test_micrograd_readme_example_matches_micrograd():
    engine = pytest.importorskip("micrograd.engine")
    a, b, g = _micrograd_readme(Value)
    g.backward()
    ma, mb, mg = _micrograd_readme(engine.Value)
    mg.backward()
    assert (g.data, a.grad, b.grad) == pytest.approx((mg.data, ma.grad, mb.grad), rel=1e-12)


def test_micrograd_sanity_check_matches_torch():
    torch = pytest.importorskip("torch")

    def run(value_cls):
        x = value_cls(-4.0)
        z = 2 * x + 2 + x
        q = z.relu() + z * x
        h = (z * z).relu()
        y = h + q + q * x
        return x, y

    x, y = run(Value)
    y.backward()
    tx, ty = run(lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    ty.backward()
    assert y.data == pytest.approx(ty.item(), rel=1e-12)
    assert x.grad == pytest.approx(tx.grad.item(), rel=1e-12)
    assert type(x.grad) is float


def test_scalar_grad_is_a_python_float():
    x, y = Value(2.0), Value(-1.5)
    assert type(x.grad) is float and x.grad == 0.0
    z = (x * y + x.exp()).tanh() + Value(np.float64(1.0), requires_grad=False)
    z.backward()
    assert type(x.grad) is float and type(y.grad) is float
    assert type(x.data) is float and x.dtype == np.float64


# ----------------------------------------------------------------------------
# deep graphs and accumulation


def test_million_node_chain():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 0.999999
    y.backward()
    assert x.grad == pytest.approx(0.999999**1_000_000, rel=1e-9)


def test_sum_of_100000_scalars():
    xs = [Value(float(i)) for i in range(100_000)]
    total = sum(xs)
    total.backward()
    assert total.data == 100_000 * 99_999 / 2
    assert all(x.grad == 1.0 for x in xs)
    s = stack(xs).sum()
    for x in xs[:3]:
        x.zero_grad()
    s.backward()
    assert xs[0].grad == 1.0 and xs[-1].grad == 2.0


def test_reused_node_accumulates():
    a = Value(3.0)
    b = a + a
    c = b * b  # c = 4 a^2
    c.backward()
    assert b.grad == 2 * b.data == 12.0
    assert a.grad == 8 * a.data == 24.0


def test_repeated_backward_accumulates_into_leaves_only_once_per_pass():
    x = Value(2.0)
    h = x * x
    y = h * h + h  # dy/dh = 2h + 1 = 9, dy/dx = 4x^3 + 2x = 36
    y.backward()
    assert (x.grad, h.grad) == (36.0, 9.0)
    y.backward()  # an intermediate's stored grad must not be propagated again
    assert (x.grad, h.grad) == (72.0, 18.0)
    xt = Value(np.array([1.0, -2.0]))
    yt = ((xt * xt) * 3.0).sum()
    yt.backward()
    yt.backward()
    np.testing.assert_array_equal(xt.grad, 2 * 6.0 * xt.data)


def test_zero_grad():
    x = Value(np.array([1.0, 2.0]))
    (x * x).sum().backward()
    x.zero_grad()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    s = Value(1.0)
    (s * 3).backward()
    s.zero_grad()
    assert s.grad == 0.0


# ----------------------------------------------------------------------------
# graph control


def test_no_grad_records_nothing():
    x = Value(np.array([1.0, 2.0]))
    with no_grad():
        y = (x * 2).exp().sum()
    assert not y.requires_grad and y.parents == ()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    z = (x * 2).sum()
    assert z.requires_grad


def test_detach_blocks_the_gradient():
    x = Value(np.array([1.0, 2.0]))
    y = (x.detach() * x).sum()  # only the second factor is differentiated
    y.backward()
    np.testing.assert_array_equal(x.grad, x.data)


@given(broadcastable_values(2))
def test_inputs_without_requires_grad_get_no_gradient(xc):
    x, c = xc
    c.requires_grad = False
    y = (x * c + c.exp()).sum()
    y.backward()
    assert c.grad is None
    assert x.grad.shape == x.shape
    assert gradcheck(lambda a, b: a * b + b.exp(), x, c)  # c is passed as a constant
    s = Value(2.0, requires_grad=False)
    t = Value(3.0)
    (s * t).backward()
    assert s.grad == 0.0 and t.grad == 2.0


def test_nothing_requires_grad():
    a = Value(np.ones(2), requires_grad=False)
    b = a * 3 + 1
    assert not b.requires_grad and b.is_leaf


# ----------------------------------------------------------------------------
# dtypes

FLOAT32_OPS = [
    lambda x, y: x + y,
    lambda x, y: x * y - y / (x * x + 1.0),
    lambda x, y: (x * 2.5) ** 2 + 2.0**x,
    lambda x, y: (x.exp() + 1.0).log(),
    lambda x, y: x.tanh() + x.sigmoid() + x.relu() + x.softplus() + x.elu() + x.selu(),
    lambda x, y: x.leaky_relu() + x.abs() + x.clip(-0.5, 0.5) + (x * x + 1.0).sqrt(),
    lambda x, y: x.softmax() + x.log_softmax(axis=0),
    lambda x, y: x.sum(axis=0) + x.mean() + x.max(axis=0) + x.min() + x.logsumexp(axis=0),
    lambda x, y: (x @ y.T).reshape(-1)[np.array([0, 0, 1])],
    lambda x, y: concatenate([x, y]) + stack([x, y]).sum(axis=0).T[0].sum(),
    lambda x, y: where(x.data > 0, x, y),
    lambda x, y: x * Value(2.0) + Value(1.5),  # scalar Values do not promote float32
]


@pytest.mark.parametrize("fn", FLOAT32_OPS)
def test_float32_stays_float32(fn):
    rng = np.random.default_rng(0)
    x = Value(rng.standard_normal((2, 3)).astype(np.float32))
    y = Value(rng.standard_normal((2, 3)).astype(np.float32))
    out = fn(x, y)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, np.float32))
    for v in (x, y):
        assert v.grad is None or (v.grad.dtype == np.float32 and v.grad.shape == v.shape)


def test_integer_data_becomes_float64():
    v = Value(np.array([1, 2, 3]))
    assert v.dtype == np.float64
    assert Value(3).data == 3.0 and type(Value(3).data) is float


# ----------------------------------------------------------------------------
# higher order


def test_second_derivative_of_tanh():
    for x0 in (-1.3, 0.0, 0.4, 2.0):
        x = Value(x0)
        (d1,) = grad(x.tanh(), [x], create_graph=True)
        (d2,) = grad(d1, [x])
        t = math.tanh(x0)
        assert d1.data == pytest.approx(1 - t * t, rel=1e-12)
        assert d2 == pytest.approx(-2 * t * (1 - t * t), rel=1e-12, abs=1e-15)
    # the same through backward(create_graph=True) on a tensor
    x = Value(np.array([-1.3, 0.0, 0.4, 2.0]))
    x.tanh().sum().backward(create_graph=True)
    first = x.grad
    x.zero_grad()
    first.sum().backward()
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, -2 * t * (1 - t * t), rtol=1e-12, atol=1e-15)


def test_hessian_vector_product_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0, x0, v0 = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    labels = np.array([0.0, 1.0, 0.0, 0.0])

    def loss(x, w, lib):
        z = w @ x
        if lib == "ours":
            h = z.tanh() ** 2 + z.sigmoid() * z
            return -(h.log_softmax() * labels).sum() + (x * x).sum() * 0.1
        h = z.tanh() ** 2 + z.sigmoid() * z
        return -(torch.log_softmax(h, 0) * torch.as_tensor(labels)).sum() + (x * x).sum() * 0.1

    x, w = Value(x0), Value(w0, requires_grad=False)
    (g,) = grad(loss(x, w, "ours"), [x], create_graph=True)
    (hv,) = grad((g * v0).sum(), [x])
    tx = torch.tensor(x0, requires_grad=True)
    (tg,) = torch.autograd.grad(loss(tx, torch.tensor(w0), "torch"), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v0)).sum(), tx)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(hv, thv.numpy(), rtol=RTOL, atol=ATOL)


GRADGRAD = {
    "tanh": (lambda x: x.tanh(), None),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "exp": (lambda x: x.exp() * x, None),
    "log": (lambda x: x.log() * x, "log"),
    "pow": (lambda x: x**2.5 + x ** (x * 0.5), "pow"),
    "softplus": (lambda x: x.softplus() * x, None),
    "elu": (lambda x: x.elu() * x, "elu"),
    "softmax": (lambda x: x.softmax() * x, None),
    "log_softmax": (lambda x: x.log_softmax(axis=0) * x, None),
    "logsumexp": (lambda x: x.logsumexp(axis=0) * x.sum(), None),
    "max": (lambda x: x.max(axis=-1) * x.mean(), "max"),
    "matmul": (lambda x: ((x @ x.T).tanh() @ x).sum(axis=0), None),
    "indexing": (lambda x: (x[np.array([0, 0])] * x[0]).sum(), None),
}


@given(st.sampled_from(sorted(GRADGRAD)), st.data())
def test_gradgradcheck(name, data):
    fn, domain = GRADGRAD[name]
    x = data.draw(values(shape=small_shapes(min_dims=2, max_dims=2, max_side=3), elements=domain))
    if name == "max":
        x = data.draw(arrays_for("max", small_shapes(min_dims=2, max_dims=2, max_side=3)))
    assert gradgradcheck(fn, x)


GRADGRAD_BINARY = {
    "mul": lambda a, b: (a * b * a).tanh(),
    "div": lambda a, b: a / (b * b + 1.0) * a,
    "pow": lambda a, b: (a * a + 1.0) ** (b * 0.3),
    "rpow": lambda a, b: 2.0 ** (a * b),
    "sub": lambda a, b: (1.0 - a - b) * (a - b),
    "where": lambda a, b: where(a.data > 0, a * a, b * a),
    "sqrt": lambda a, b: (a * a + b * b + 1.0).sqrt(),
    "selu": lambda a, b: (a * b).selu() * a,
}


@given(st.sampled_from(sorted(GRADGRAD_BINARY)), broadcastable_values(2, elements="div"))
def test_gradgradcheck_with_broadcasting(name, ab):
    """Second derivatives through un-broadcasting (|x| >= 0.1 keeps away from kinks)."""
    assert gradgradcheck(GRADGRAD_BINARY[name], *ab, atol=1e-4)


def test_gradgradcheck_on_scalar_values():
    assert gradgradcheck(lambda a, b: (a * b).tanh() * a.exp() + b**3, 0.3, -0.8)


# ----------------------------------------------------------------------------
# errors and anomalies


def test_backward_on_a_tensor_needs_grad():
    y = Value(np.ones((2, 3))) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\)"):
        y.backward()


def test_backward_with_a_grad_of_the_wrong_shape():
    y = Value(np.ones((2, 3))) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        Value(np.ones((2, 3))) @ Value(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        Value(np.ones(3)) @ np.ones(2)


def test_backward_on_a_value_that_does_not_require_grad():
    y = Value(np.ones(2), requires_grad=False).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_log_and_sqrt_outside_their_domain_give_nan_like_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(Value(-1.0).log().data)
        assert math.isnan(Value(-1.0).sqrt().data)
        assert Value(0.0).log().data == -math.inf
        t = Value(np.array([-1.0, 0.0, 4.0]))
        logs, roots = t.log().data, t.sqrt().data
    assert np.isnan(logs[0]) and logs[1] == -np.inf and logs[2] == pytest.approx(np.log(4.0))
    assert np.isnan(roots[0]) and roots[1] == 0.0 and roots[2] == 2.0


def test_detect_anomaly_names_the_op():
    from tinygrad_mlp.testing import detect_anomaly as reexported

    assert reexported is detect_anomaly
    x = Value(np.array([-1.0, 2.0]))
    with detect_anomaly(), pytest.raises(FloatingPointError, match="log"):
        x.log()
    with detect_anomaly(), pytest.raises(FloatingPointError, match="gradient"):
        Value(np.array([0.0, 1.0])).sqrt().sum().backward()
    assert np.isnan(x.log().data[0])  # outside the block nan passes silently


def test_tensor_ops_on_a_scalar_value_are_errors():
    with pytest.raises(TypeError, match="reshape needs a tensor Value; this is a scalar Value"):
        Value(1.0).reshape(1)
    with pytest.raises(TypeError, match="indexing needs a tensor Value"):
        Value(1.0)[0]
    with pytest.raises(ValueError, match="scalar"):
        Value(1.0) @ Value(np.ones(2))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_division_by_zero_gives_inf_like_numpy():
    t = Value(np.array([1.0, 0.0, -1.0]))
    with np.errstate(all="ignore"):
        expected = np.array([1.0, 0.0, -1.0]) / 0.0
    for out in (t / 0, t / 0.0, t / Value(0.0), t / np.zeros(3)):
        np.testing.assert_array_equal(out.data, expected)
    assert Value(2.0).__truediv__(0).data == math.inf
    assert math.isnan((Value(0.0) / 0).data)


# ----------------------------------------------------------------------------
# data changed after it was recorded (PyTorch's version counters)


def test_reassigned_input_makes_backward_raise():
    x = Value(np.array([2.0]))
    y = x * x
    x.data = np.array([5.0])
    with pytest.raises(RuntimeError, match=r"operation '\*'.*assigned after"):
        y.sum().backward()


def test_in_place_write_to_a_result_makes_backward_raise():
    x = Value(np.array([2.0]))
    y = x.exp()
    y.data *= 0
    with pytest.raises(RuntimeError, match="operation 'exp' needs its result"):
        y.sum().backward()
    assert x.grad is None  # nothing was accumulated


def test_in_place_write_to_an_input_makes_backward_raise():
    w = Value(np.array([1.0, 2.0]))
    loss = (w * w).sum()
    w.data -= 0.1
    with pytest.raises(RuntimeError, match="needs an input"):
        loss.backward()


def test_writing_a_result_whose_rule_does_not_read_it_is_allowed():
    """As in PyTorch: a*b saves a and b, not a*b, so changing a*b breaks nothing."""
    x = Value(np.array([3.0]))
    y = x * 2.0
    y.data = np.array([0.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_scalar_values_are_versioned_too():
    a = Value(2.0)
    b = a * a
    a.data = 3.0
    with pytest.raises(RuntimeError, match="assigned after"):
        b.backward()


def test_the_course_manual_update_keeps_working():
    """w.data -= lr * w.grad after backward, then a new forward pass: no error, loss falls."""
    w = Value(np.array([1.0, -2.0]))
    losses = []
    for _ in range(3):
        loss = (w * w).sum()
        w.zero_grad()
        loss.backward()
        w.data -= 0.1 * w.grad
        losses.append(loss.data)
    assert losses[0] > losses[1] > losses[2]


def test_optimizers_and_set_weights_keep_working():
    from tinygrad_mlp.layers import Dense
    from tinygrad_mlp.models import Sequential

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    model = Sequential([Dense(4, input_dim=3, activation="tanh"), Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.set_weights([w * 0.5 for w in model.get_weights()])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)


# ----------------------------------------------------------------------------
# grad mode is per thread


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    import threading

    entered, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with no_grad():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    try:
        assert entered.wait(10)
        x = Value(np.array([1.0, 2.0]))
        y = (x * 3.0).sum()
        assert y.requires_grad
        y.backward()
        np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    finally:
        release.set()
        t.join()


def test_predicting_in_eight_threads_while_training_in_another():
    """predict runs under no_grad; training beside it learns exactly as it does alone."""
    import threading

    from tinygrad_mlp import is_grad_enabled
    from tinygrad_mlp.layers import Dense
    from tinygrad_mlp.models import Sequential

    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 2))
    y = (x[:, :1] + x[:, 1:] > 0).astype(float)
    server = Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    server.compile(loss="binary_crossentropy", optimizer="sgd")
    requests = x[:64]  # small batches: many no_grad blocks entered and left per second
    expected = server.predict(requests, verbose=0)
    learner = Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    start = [w.copy() for w in learner.get_weights()]

    def train():
        learner.set_weights(start)
        learner.compile(loss="binary_crossentropy", optimizer="adam")
        return learner.fit(x, y, epochs=10, batch_size=4, shuffle=False, verbose=0).history

    alone = train()
    alone_weights = learner.get_weights()
    stop = threading.Event()
    errors = []

    def serve():
        try:
            while not stop.is_set():
                np.testing.assert_allclose(server.predict(requests, verbose=0), expected)
        except Exception as error:  # reported below: a thread's assert is not the test's
            errors.append(error)

    servers = [threading.Thread(target=serve) for _ in range(8)]
    for s in servers:
        s.start()
    try:
        beside = train()
    finally:
        stop.set()
        for s in servers:
            s.join()
    assert not errors, errors
    assert beside == alone and beside["loss"][-1] < beside["loss"][0]
    for a, b in zip(alone_weights, learner.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert is_grad_enabled()  # and every later fit trains too
    assert train() == alone


# ----------------------------------------------------------------------------
# the edges, as PyTorch has them


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("axis", [2, 5, -3, (0, 2), (0, 0)])
def test_out_of_range_or_repeated_axes_raise(name, axis):
    x = Value(np.ones((3, 4)))
    error = ValueError if axis == (0, 0) else np.exceptions.AxisError
    with pytest.raises(error):
        getattr(x, name)(axis=axis)


@pytest.mark.parametrize("axis", [2, -3])
def test_softmax_axis_out_of_range_raises(axis):
    x = Value(np.ones((3, 4)))
    for name in ("softmax", "log_softmax"):
        with pytest.raises(np.exceptions.AxisError):
            getattr(x, name)(axis=axis)


@pytest.mark.parametrize("name", ["max", "min"])
def test_nan_takes_the_gradient_of_max_and_min(name):
    data = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -1.0]])
    for axis in (None, 1):
        x = Value(data.copy())
        out = getattr(x, name)(axis=axis)
        out.backward(np.ones(out.shape))
        t = torch.tensor(data, requires_grad=True) if torch is not None else None
        if t is None:
            pytest.skip("PyTorch is not installed: the comparison with PyTorch did not run")
        tout = getattr(torch, name)(t) if axis is None else getattr(torch, name)(t, dim=axis)[0]
        tout.backward(torch.ones_like(tout))
        np.testing.assert_array_equal(x.grad, t.grad.numpy())
        assert np.isfinite(x.grad).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_at_a_zero_base_follows_pytorch():
    require = pytest.importorskip("torch")
    base = np.array([0.0, 0.0, 0.0, 2.0])
    exponent = np.array([0.0, 2.0, -1.0, 0.0])
    assert_matches_torch(lambda a, b: a**b, lambda a, b: a**b, base, exponent)
    x = Value(np.array([0.0]))
    (x**0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0])  # x^0 is constant: 0, not NaN
    y = Value(np.array([0.5, 2.0]))
    (Value(np.zeros(2), requires_grad=False) ** y).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 0.0])  # 0^y is 0 for y > 0: 0, not NaN
    s = Value(0.0)
    (s**0.0).backward()
    assert s.grad == 0.0
    assert require is not None


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_mean_over_nothing_is_nan_with_numpy_warning():
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        out = Value(np.zeros((0,))).mean()
    assert np.isnan(out.data)
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        rows = Value(np.zeros((3, 0))).mean(axis=1)
    assert rows.shape == (3,) and np.isnan(rows.data).all()


@pytest.mark.parametrize("data", [1 + 2j, np.array([1 + 0j, 2]), [1j]])
def test_complex_input_is_a_type_error(data):
    with pytest.raises(TypeError, match="complex"):
        Value(data)


@pytest.mark.parametrize("axis", [0, -1])
def test_zero_d_tensors_accept_axis_zero(axis):
    x = Value(np.array(2.0))
    for name in ("sum", "mean", "max", "min", "logsumexp"):
        out = getattr(x, name)(axis=axis)
        assert out.shape == () and out.data == 2.0
    assert x.softmax(axis).data == 1.0 and x.log_softmax(axis).data == 0.0
    with pytest.raises(np.exceptions.AxisError):
        x.sum(axis=1)


def test_relu_of_nan_is_nan_on_both_paths():
    assert math.isnan(Value(math.nan).relu().data)
    assert math.isnan(Value(np.array(math.nan)).relu().data)
