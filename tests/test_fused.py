"""The numba loops (``_fused.py``) against the NumPy passes they replace: the same bits.

numba is in the ``test`` extra, so these comparisons run wherever the suite runs; each
test imports it, so a missing numba fails here instead of the comparison vanishing.
"""

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp import _fused
from tinygrad_mlp.ops import _np_relu
from tinygrad_mlp.optimizers import SGD, Adam
from tinygrad_mlp.replay import _backward_activation, _Buffers, _forward_activation, _relu_mask

DTYPES = st.sampled_from([np.float32, np.float64])


def numpy_only():
    """A context in which every fused loop reports itself missing: the NumPy passes run."""
    return mock.patch.object(_fused, "_compiled", lambda loop: None)


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


def _assert_bits(a, b):
    np.testing.assert_array_equal(_bits(a), _bits(b))


def _values(rng, shape, dtype, scale):
    x = rng.standard_normal(shape) * 10.0**scale
    x.flat[::37] = 0.0
    x.flat[1::53] = -0.0
    return x.astype(dtype)


def test_numba_is_here_and_the_loops_compile():
    import numba  # noqa: F401

    assert _fused.available()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(4096, 12000), dtype=DTYPES, lr=st.floats(1e-5, 0.5),
    beta_1=st.floats(0.0, 0.999), beta_2=st.floats(0.5, 0.99999), epsilon=st.floats(1e-9, 1e-2),
    iterations=st.integers(0, 5000), scale=st.floats(-8, 4), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_adam_loop_gives_the_bits_of_the_numpy_passes(
    n, dtype, lr, beta_1, beta_2, epsilon, iterations, scale, seed
):
    rng = np.random.default_rng(seed)
    w, g = _values(rng, n, dtype, 0), _values(rng, n, dtype, scale)
    m, v = _values(rng, n, dtype, -1), np.abs(_values(rng, n, dtype, scale))
    opt = Adam(lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    opt.iterations = iterations
    results = []
    for fused in (False, True):
        arrays = [w.copy(), m.copy(), v.copy()]
        if fused:
            opt._update(arrays[0], g, {"momentum": arrays[1], "velocity": arrays[2]},
                        np.empty_like(w), lr)  # fmt: skip
        else:
            with numpy_only():
                opt._update(arrays[0], g, {"momentum": arrays[1], "velocity": arrays[2]},
                            np.empty_like(w), lr)  # fmt: skip
        results.append(arrays)
    for a, b in zip(*results, strict=True):
        _assert_bits(a, b)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(4096, 12000), dtype=DTYPES, lr=st.floats(1e-5, 1.0),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 0.99]), nesterov=st.booleans(),
    scale=st.floats(-8, 4), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_sgd_loop_gives_the_bits_of_the_numpy_passes(n, dtype, lr, momentum, nesterov, scale, seed):
    rng = np.random.default_rng(seed)
    w, g, v = _values(rng, n, dtype, 0), _values(rng, n, dtype, scale), _values(rng, n, dtype, -1)
    opt = SGD(lr, momentum=momentum, nesterov=nesterov)
    results = []
    for fused in (False, True):
        arrays = [w.copy(), v.copy()]
        slots = {"momentum": arrays[1]} if momentum else {}
        if fused:
            opt._update(arrays[0], g.copy(), slots, np.empty_like(w), lr)
        else:
            with numpy_only():
                opt._update(arrays[0], g.copy(), slots, np.empty_like(w), lr)
        results.append(arrays)
    for a, b in zip(*results, strict=True):
        _assert_bits(a, b)


SPECIAL = [0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-45, -1e-45, 3.0, -3.0]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 70), cols=st.integers(1, 70), dtype=DTYPES, bias=st.booleans(),
    special=st.booleans(), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_bias_relu_and_its_gradient_give_the_bits_of_the_numpy_passes(
    rows, cols, dtype, bias, special, seed
):
    rng = np.random.default_rng(seed)
    z = _values(rng, (rows, cols), dtype, 0)
    if special:
        z.flat[: len(SPECIAL)] = np.array(SPECIAL, dtype)[: z.size]
    b = _values(rng, cols, dtype, 0) if bias else None
    g = _values(rng, (rows, cols), dtype, 1)
    results = []
    for fused in (False, True):
        bufs = _Buffers(rows, [cols, cols], dtype)
        out, grad_bias = z.copy(), np.empty(cols, dtype)
        if fused:  # the loops the replayed step takes for this layer
            forward, backward = _fused.layer_loops(dtype, "relu", b is not None, True, cols)
            assert (forward is not None) == (b is not None)  # without a bias: NumPy passes
            if b is not None:
                forward(out, b, dtype(0))
            else:
                _forward_activation("relu", out, bufs, 0)
            bufs.z[0][...] = out  # the backward reads the ReLU's output
            # one column is summed pairwise by NumPy: left to it
            assert (backward is not None) == (b is not None and cols > 1)
            if backward is not None:
                dz = g.copy()
                backward(dz, bufs.z[0], grad_bias, dtype(0))
            else:
                _relu_mask(bufs, 0)
                dz = _backward_activation("relu", g, bufs, 0)
                np.add.reduce(dz, axis=0, out=grad_bias)
        else:
            with numpy_only():
                if b is not None:
                    np.add(out, b, out=out)
                _forward_activation("relu", out, bufs, 0)
                dz = _backward_activation("relu", g, bufs, 0)
                np.add.reduce(dz, axis=0, out=grad_bias)
        results.append((out, dz.copy(), grad_bias))
    (out0, dz0, gb0), (out1, dz1, gb1) = results
    _assert_bits(out0, out1)
    _assert_bits(out0, _np_relu(z + b if b is not None else z))  # and it is the engine's relu
    np.testing.assert_array_equal(out0, np.maximum(z + b if b is not None else z, 0))
    _assert_bits(dz0, dz1)
    _assert_bits(gb0, gb1)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_is_one_selection_at_every_size_minus_zero_and_nan_included(dtype):
    """np.maximum(-0.0, 0) is -0.0 or +0.0 depending on the array's size (scalar or SIMD
    loop); the engine's relu, the replay's and the fused loop all give +0.0 (PyTorch's
    threshold) and keep NaN, so eager and replayed steps agree at any width."""
    from tinygrad_mlp.engine import Value

    for cols in range(1, 40):
        z = np.array([[-0.0, 0.0, -1.0, 2.0, np.nan, -np.inf, np.inf] * 6], dtype)[:, :cols]
        z = np.repeat(z, 3, axis=0)
        eager = Value(z).relu().data
        assert not np.signbit(eager[~np.isnan(eager)]).any()
        np.testing.assert_array_equal(eager, np.maximum(z, 0))
        bufs = _Buffers(3, [cols, cols], dtype)
        replayed = z.copy()
        _forward_activation("relu", replayed, bufs, 0)
        _assert_bits(eager, replayed)
        if dtype != np.float16:
            fused = z.copy()
            forward, _ = _fused.layer_loops(dtype, "relu", True, True, cols)
            forward(fused, np.zeros(cols, dtype), dtype(0))
            _assert_bits(eager, fused)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf
@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(0, 300), cols=st.one_of(st.integers(1, 40), st.integers(41, 200)),
    dtype=DTYPES, scale=st.integers(-3, 3),
    special=st.booleans(), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_sparse_softmax_ce_loops_give_the_bits_of_the_numpy_passes(
    rows, cols, dtype, scale, special, seed
):
    """The sparse cross-entropy's loss, softmax and gradient: numba's loops and NumPy's
    passes over a transposed copy, bit for bit; both the loss they are meant to be."""
    from tinygrad_mlp import losses

    rng = np.random.default_rng(seed)
    z = _values(rng, (rows, cols), dtype, scale)
    if special:
        z.flat[: len(SPECIAL)] = np.array(SPECIAL, dtype)[: z.size]
    labels = rng.integers(0, cols, rows)
    index = np.arange(rows)
    g = _values(rng, rows, dtype, 0)
    z_before = z.copy()
    # the loops run up to 128 classes (NumPy's pairwise block), the NumPy passes beyond
    assert (_fused.sparse_softmax_ce(z, labels, True) is not None) == (cols <= 128)
    results = []
    for fused in (True, False):
        with mock.patch.object(_fused, "_compiled", _fused._compiled if fused else lambda f: None):
            data, probs = losses._sparse_softmax_ce_arrays(z, index, labels, True)
            loss_only, none = losses._sparse_softmax_ce_arrays(z, index, labels, False)
            grad = losses._sparse_softmax_ce_grad(probs.copy(), index, labels, g)
        assert none is None
        _assert_bits(z, z_before)  # the logits are read, never written
        _assert_bits(data, loss_only)
        assert probs.flags.c_contiguous and grad.flags.c_contiguous
        results.append((data, probs, grad))
    for a, b in zip(*results, strict=True):
        assert a.dtype == dtype and b.dtype == dtype
        _assert_bits(a, b)
    # the loss is logsumexp(z) - z_label and the softmax sums to 1, where z is finite
    data, probs, grad = results[0]
    finite = np.isfinite(z).all(axis=1)
    z64 = z[finite].astype(np.float64)
    top = z64.max(axis=1, keepdims=True)
    expected = (
        np.log(np.exp(z64 - top).sum(axis=1)) + top[:, 0] - z64[index[: len(z64)], labels[finite]]
    )
    tol = 1e-5 if dtype == np.float32 else 1e-12
    err = np.abs(data[finite] - expected)
    assert (err <= tol * (1 + np.abs(top[:, 0]) + np.abs(expected))).all()
    np.testing.assert_allclose(probs[finite].sum(axis=1), 1.0, rtol=tol * cols)
    onehot = np.eye(cols, dtype=dtype)[labels]
    np.testing.assert_allclose(grad, (probs - onehot) * g[:, None], rtol=tol, atol=tol)


@pytest.mark.parametrize("bad", [-1, 3, 99])
def test_sparse_softmax_ce_loops_refuse_a_label_out_of_range_and_write_nothing(bad):
    z = np.arange(12, dtype=np.float32).reshape(4, 3)
    labels = np.array([0, 1, bad, 2])
    assert _fused.sparse_softmax_ce(z, labels, True) is None
    probs = np.full((4, 3), 0.25, np.float32)
    assert not _fused.sparse_softmax_ce_grad(probs, labels, np.ones(4, np.float32))
    np.testing.assert_array_equal(probs, 0.25)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 70), cols=st.integers(2, 70), dtype=DTYPES, scale=st.integers(-3, 3),
    minus_zero=st.floats(0.0, 1.0), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_bias_add_and_column_sums_give_the_bits_of_numpy(
    rows, cols, dtype, scale, minus_zero, seed
):
    """The linear layer's bias forward and backward: NumPy's broadcast add and its
    add.reduce(axis=0), which adds every row to +0.0 (a column of -0.0 sums to +0.0)."""
    rng = np.random.default_rng(seed)
    z, bias = _values(rng, (rows, cols), dtype, scale), _values(rng, cols, dtype, 0)
    z[rng.random(z.shape) < minus_zero] = -0.0  # whole columns of -0.0 now and then
    add, sums_of = _fused.layer_loops(dtype, "linear", True, True, cols)
    added = z.copy()
    add(added, bias)
    _assert_bits(added, z + bias)
    sums = np.empty(cols, dtype)
    sums_of(z, sums)
    _assert_bits(sums, np.add.reduce(z, axis=0))
    # and the ReLU backward (in place) with its bias sums, where the gradient passes
    # everywhere and where a draw of outputs blocks it
    _, relu_backward = _fused.layer_loops(dtype, "relu", True, True, cols)
    passed, bias_grad = z.copy(), np.empty(cols, dtype)
    relu_backward(passed, np.ones_like(z), bias_grad, dtype(0))
    _assert_bits(passed, z)
    _assert_bits(bias_grad, np.add.reduce(z, axis=0))
    out = np.maximum(_values(rng, (rows, cols), dtype, 0), 0)
    blocked = z.copy()
    relu_backward(blocked, out, bias_grad, dtype(0))
    _assert_bits(blocked, np.where(out <= 0, dtype(0), z))
    _assert_bits(bias_grad, np.add.reduce(blocked, axis=0))


def test_a_column_of_minus_zero_sums_to_plus_zero_as_numpy_sums_it():
    g = np.array([[-0.0, -0.0, 1.0]], np.float32)
    sums, bias_grad = np.empty(3, np.float32), np.empty(3, np.float32)
    _, sums_of = _fused.layer_loops(np.float32, "linear", True, True, 3)
    _, relu_backward = _fused.layer_loops(np.float32, "relu", True, True, 3)
    sums_of(np.repeat(g, 2, axis=0), sums)
    relu_backward(g.copy(), np.ones_like(g), bias_grad, np.float32(0))
    for got in (sums, bias_grad):
        assert not np.signbit(got).any()
        _assert_bits(got[:2], np.add.reduce(g, axis=0)[:2])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 300), cols=st.integers(1, 50), picks=st.integers(0, 40),
    dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_take_rows_is_np_take(rows, cols, picks, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 100).astype(dtype)
    index = rng.integers(0, rows, picks)
    taken = _fused.take_rows(x, index)
    assert taken is not None and taken.flags.c_contiguous and not np.shares_memory(taken, x)
    _assert_bits(taken, np.take(x, index, axis=0))


def test_take_rows_leaves_what_it_cannot_take_to_numpy():
    x = np.arange(12.0).reshape(4, 3)
    assert _fused.take_rows(x, np.array([0, 4])) is None  # out of range: np.take raises
    assert _fused.take_rows(x, np.array([0, -1])) is None  # negative: np.take wraps
    assert _fused.take_rows(np.asfortranarray(x), np.array([0])) is None
    assert _fused.take_rows(x, np.array([0], np.int32)) is None


def test_float16_is_left_to_numpy_by_every_loop():
    """numba has no float16: each entry point says no instead of raising at the call."""
    h = np.float16
    z, rows = np.ones((5, 4), h), np.arange(5)
    for activation in ("relu", "linear", "tanh"):
        assert _fused.layer_loops(h, activation, True, True, 4) == (None, None)
    assert _fused.sparse_softmax_ce(z, rows % 4, True) is None
    assert not _fused.sparse_softmax_ce_grad(z.copy(), rows % 4, np.ones(5, h))
    assert _fused.sparse_ce_loops(h, 4) is None
    big = np.ones(5000, h)
    assert not _fused.adam(big.copy(), big, big.copy(), big.copy(), 0.9, 0.999, 1e-7, 0.01)
    assert not _fused.sgd(big.copy(), big, None, 0.01, 0.0, False)
    assert _fused.take_rows(z, rows) is None
    assert _fused.take_rows(np.ones((5, 4), np.complex64), rows) is None
