"""Losses: gradients (gradcheck), values against PyTorch, stability, shapes, lookup."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_mlp import losses
from tinygrad_mlp.engine import Value
from tinygrad_mlp.testing import gradcheck, gradgradcheck

# -- strategies ----------------------------------------------------------------


@st.composite
def batch(draw, lo=-3.0, hi=3.0, min_classes=1, max_classes=4):
    """(n, k) predictions in [lo, hi] and a seed for targets."""
    n = draw(st.integers(1, 5))
    k = draw(st.integers(min_classes, max_classes))
    pred = draw(arrays(np.float64, (n, k), elements=st.floats(lo, hi)))
    seed = draw(st.integers(0, 2**16))
    return pred, np.random.default_rng(seed)


def one_hot(labels, k):
    return np.eye(k)[labels]


def weights(rng, n):
    return rng.uniform(0.1, 2.0, n)


# -- gradients -------------------------------------------------------------------


@given(batch())
def test_mse_gradient(b):
    pred, rng = b
    y = rng.normal(size=pred.shape)
    assert gradcheck(lambda p: losses.MeanSquaredError()(y, p), pred)
    w = weights(rng, len(pred))
    assert gradcheck(lambda p: losses.MeanSquaredError()(y, p, sample_weight=w), pred)


@given(batch())
def test_mae_gradient(b):
    pred, rng = b
    # keep every error at least 0.1 away from the kink at 0
    y = pred + rng.choice([-1.0, 1.0], pred.shape) * rng.uniform(0.1, 1.0, pred.shape)
    assert gradcheck(lambda p: losses.MeanAbsoluteError()(y, p), pred)


@given(batch(), st.floats(0.5, 2.0))
def test_huber_gradient(b, delta):
    pred, rng = b
    err = rng.uniform(0.0, 3.0, pred.shape)
    err[np.abs(err - delta) < 0.05] += 0.1  # away from the switch point
    y = pred + rng.choice([-1.0, 1.0], pred.shape) * err
    assert gradcheck(lambda p: losses.Huber(delta)(y, p), pred)


@given(batch(0.05, 0.95), st.sampled_from([0.0, 0.2]))
def test_binary_crossentropy_gradient(b, smoothing):
    pred, rng = b
    y = rng.integers(0, 2, pred.shape).astype(float)
    loss = losses.BinaryCrossentropy(label_smoothing=smoothing)
    assert gradcheck(
        lambda p: loss(y, p, sample_weight=weights(np.random.default_rng(0), len(pred))), pred
    )


@given(batch(-6.0, 6.0))
def test_binary_crossentropy_logits_gradient(b):
    z, rng = b
    y = rng.uniform(0, 1, z.shape)  # soft targets too
    assert gradcheck(lambda p: losses.BinaryCrossentropy(from_logits=True)(y, p), z)


@given(batch(0.05, 1.0, min_classes=2))
def test_categorical_crossentropy_gradient(b):
    pred, rng = b
    y = one_hot(rng.integers(0, pred.shape[1], len(pred)), pred.shape[1])
    # unnormalised probabilities: the loss renormalises, the gradient must follow
    assert gradcheck(lambda p: losses.CategoricalCrossentropy()(y, p), pred)


@given(batch(-6.0, 6.0, min_classes=2), st.sampled_from([0.0, 0.1]))
def test_categorical_crossentropy_logits_gradient(b, smoothing):
    z, rng = b
    y = one_hot(rng.integers(0, z.shape[1], len(z)), z.shape[1])
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    w = weights(rng, len(z))
    assert gradcheck(lambda p: loss(y, p, sample_weight=w), z)


@given(batch(0.05, 1.0, min_classes=2), st.booleans())
def test_sparse_categorical_crossentropy_gradient(b, from_logits):
    pred, rng = b
    labels = rng.integers(0, pred.shape[1], len(pred))
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    assert gradcheck(lambda p: loss(labels, p), pred)


@given(batch(-4.0, 4.0, min_classes=2, max_classes=3))
def test_logits_losses_second_order(b):
    """The fused rules also run under create_graph (their gradient is differentiable)."""
    z, rng = b
    y = one_hot(rng.integers(0, z.shape[1], len(z)), z.shape[1])
    assert gradgradcheck(lambda p: losses.CategoricalCrossentropy(from_logits=True)(y, p), z)
    assert gradgradcheck(lambda p: losses.BinaryCrossentropy(from_logits=True)(y, p), z)


# -- values against PyTorch -------------------------------------------------------

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the PyTorch comparisons are skipped, the rest still runs
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def t(x):
    return torch.tensor(np.asarray(x, dtype=np.float64))


def per_sample_mean(x):
    """PyTorch's elementwise loss averaged over the last axis (Keras' per-sample loss)."""
    return x.mean(dim=-1).numpy()


@needs_torch
@given(batch())
def test_regression_losses_match_torch(b):
    pred, rng = b
    y = rng.normal(size=pred.shape) * 2
    w = weights(rng, len(pred))
    for loss, ref in [
        (losses.MeanSquaredError(), F.mse_loss(t(pred), t(y), reduction="none")),
        (losses.MeanAbsoluteError(), F.l1_loss(t(pred), t(y), reduction="none")),
        (losses.Huber(0.7), F.huber_loss(t(pred), t(y), reduction="none", delta=0.7)),
    ]:
        per = per_sample_mean(ref)
        assert np.isclose(loss(y, Value(pred)).item(), per.mean(), rtol=1e-10)
        # Keras' sum_over_batch_size: sum of weighted losses over the batch size
        expected = (per * w).sum() / len(pred)
        assert np.isclose(loss(y, Value(pred), sample_weight=w).item(), expected, rtol=1e-10)


@needs_torch
@given(batch(0.01, 0.99))
def test_binary_crossentropy_matches_torch(b):
    p, rng = b
    y = rng.integers(0, 2, p.shape).astype(float)
    ref = per_sample_mean(F.binary_cross_entropy(t(p), t(y), reduction="none")).mean()
    assert np.isclose(losses.BinaryCrossentropy()(y, Value(p)).item(), ref, rtol=1e-9)
    z = np.log(p / (1 - p))
    ref = per_sample_mean(F.binary_cross_entropy_with_logits(t(z), t(y), reduction="none"))
    got = losses.BinaryCrossentropy(from_logits=True)(y, Value(z)).item()
    assert np.isclose(got, ref.mean(), rtol=1e-9)
    # label smoothing s: targets y (1 - s) + s / 2
    ys = y * 0.8 + 0.1
    ref = per_sample_mean(F.binary_cross_entropy_with_logits(t(z), t(ys), reduction="none"))
    got = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2)(y, Value(z)).item()
    assert np.isclose(got, ref.mean(), rtol=1e-9)


@needs_torch
@given(batch(-5.0, 5.0, min_classes=2), st.sampled_from([0.0, 0.1]))
def test_categorical_crossentropies_match_torch(b, smoothing):
    z, rng = b
    k = z.shape[1]
    labels = rng.integers(0, k, len(z))
    ref = F.cross_entropy(t(z), torch.tensor(labels), label_smoothing=smoothing).item()
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    assert np.isclose(cce(one_hot(labels, k), Value(z)).item(), ref, rtol=1e-9)
    # probabilities: the same number through log(softmax)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    cce = losses.CategoricalCrossentropy(label_smoothing=smoothing)
    assert np.isclose(cce(one_hot(labels, k), Value(probs)).item(), ref, rtol=1e-6)
    if smoothing == 0.0:
        sparse = losses.SparseCategoricalCrossentropy(from_logits=True)
        assert np.isclose(sparse(labels, Value(z)).item(), ref, rtol=1e-9)
        sparse = losses.SparseCategoricalCrossentropy()
        assert np.isclose(sparse(labels, Value(probs)).item(), ref, rtol=1e-6)


def test_probabilities_are_clipped_like_keras():
    """A confident wrong answer costs -log(1e-7), not infinity."""
    got = losses.BinaryCrossentropy()(np.array([[1.0]]), Value(np.array([[0.0]]))).item()
    assert np.isclose(got, -np.log(1e-7), rtol=1e-6)
    got = losses.CategoricalCrossentropy()(np.array([[0.0, 1.0]]), Value(np.array([[1.0, 0.0]])))
    assert np.isclose(got.item(), -np.log(1e-7), rtol=1e-6)


# -- stability for huge logits -------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_of_1000_are_finite_with_exact_gradient(dtype):
    z = Value(np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 3.0]], dtype=dtype))
    y = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    loss = losses.CategoricalCrossentropy(from_logits=True)(y, z)
    loss.backward()
    assert loss.dtype == dtype and np.isfinite(loss.item())
    assert np.isclose(loss.item(), (2000.0 + 0.0) / 2)  # -log softmax: 2000 and ~0
    softmax = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(z.grad, (softmax - y) / 2, atol=1e-6)

    z = Value(np.array([[1000.0], [-1000.0], [1000.0]], dtype=dtype))
    y = np.array([0.0, 0.0, 1.0])  # 1-D targets for a single output
    loss = losses.BinaryCrossentropy(from_logits=True)(y, z)
    loss.backward()
    assert np.isclose(loss.item(), 1000.0 / 3)
    np.testing.assert_allclose(z.grad[:, 0], (np.array([1.0, 0.0, 1.0]) - y) / 3, atol=1e-6)

    z = Value(np.array([[1000.0, -1000.0]], dtype=dtype))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), z)
    loss.backward()
    assert np.isclose(loss.item(), 2000.0)
    np.testing.assert_allclose(z.grad, [[1.0, -1.0]], atol=1e-6)


def test_with_logits_returns_a_copy():
    bce = losses.BinaryCrossentropy(label_smoothing=0.1)
    fused = bce.with_logits()
    assert fused.from_logits and not bce.from_logits
    assert fused.label_smoothing == 0.1 and isinstance(fused, losses.BinaryCrossentropy)
    z = np.array([[0.3], [-1.2]])
    y = np.array([1.0, 0.0])
    p = 1 / (1 + np.exp(-z))
    assert np.isclose(fused(y, Value(z)).item(), bce(y, Value(p)).item())


# -- shapes and dtypes -----------------------------------------------------------------


def test_one_dimensional_targets_and_dtype():
    pred = Value(np.array([[1.5], [2.0]], dtype=np.float32))
    loss = losses.get("mse")(np.array([1, 2]), pred)  # integer targets, shape (n,)
    assert loss.shape == () and loss.dtype == np.float32
    assert np.isclose(loss.item(), 0.125)
    # (n, 1) targets for (n,) predictions too
    assert np.isclose(losses.get("mae")(np.array([[1.0], [2.0]]), Value([1.5, 2.0])).item(), 0.25)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*\(3, 2\)"):
        losses.MeanSquaredError()(np.zeros(4), Value(np.zeros((3, 2))))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(3, 2\)"):
        losses.CategoricalCrossentropy()(np.eye(3), Value(np.full((3, 2), 0.5)))
    with pytest.raises(ValueError, match=r"sample_weight.*\(5,\)"):
        losses.MeanSquaredError()(np.zeros(3), Value(np.zeros((3, 1))), sample_weight=np.ones(5))


def test_sparse_labels_are_checked():
    pred = Value(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"\[0, 3\).*\[3\]"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 3]), pred)
    with pytest.raises(ValueError, match=r"\[0, 3\).*-1"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([-1, 0]), pred)
    with pytest.raises(ValueError, match="non-integer"):
        losses.SparseCategoricalCrossentropy()(np.array([0.5, 1.0]), pred)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 1, 2]), pred)
    # float labels holding whole numbers and (n, 1) labels are fine
    got = losses.SparseCategoricalCrossentropy()(np.array([[0.0], [2.0]]), pred).item()
    assert np.isclose(got, np.log(3))


# -- lookup and serialization --------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls",
    [
        ("mse", losses.MeanSquaredError),
        ("MSE", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("huber", losses.Huber),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("bce", losses.BinaryCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
        ("BinaryCrossentropy", losses.BinaryCrossentropy),
    ],
)
def test_get_by_name(name, cls):
    assert type(losses.get(name)) is cls


def test_get_other_identifiers():
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(bce) is bce
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    # Keras' function forms map to their classes (so models can fuse them)
    assert isinstance(losses.get(losses.binary_crossentropy), losses.BinaryCrossentropy)

    def my_loss(y_true, y_pred):
        return ((y_pred - y_true) ** 4).mean(axis=-1)

    wrapped = losses.get(my_loss)
    assert wrapped.name == "my_loss"
    y, p = np.array([[1.0], [0.0]]), Value(np.array([[2.0], [0.0]]))
    assert np.isclose(wrapped(y, p).item(), 0.5)
    assert np.isclose(wrapped(y, p, sample_weight=np.array([0.0, 1.0])).item(), 0.0)
    with pytest.raises(ValueError, match="Valid names are:.*mean_squared_error"):
        losses.get("mean_squared_eror")


def test_function_forms_are_per_sample():
    out = losses.mean_squared_error(np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([[0, 2], [0, 0]]))
    np.testing.assert_allclose(out.data, [1.0, 0.0])
    out = losses.sparse_categorical_crossentropy(np.array([1]), Value(np.array([[0.5, 0.5]])))
    assert out.shape == (1,) and np.isclose(out.data[0], np.log(2))


def test_serialize_roundtrip():
    for loss in [
        losses.Huber(delta=2.5),
        losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        losses.CategoricalCrossentropy(label_smoothing=0.2),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        losses.MeanSquaredError(),
    ]:
        config = losses.serialize(loss)
        assert config["class_name"] == type(loss).__name__
        back = losses.deserialize(config)
        assert type(back) is type(loss) and back.get_config() == loss.get_config()


@needs_torch
@given(batch(-5.0, 5.0, min_classes=2))
def test_soft_unnormalised_targets_match_torch(b):
    """-sum_k y_k log softmax(z)_k for any non-negative y (PyTorch's probability targets)."""
    z, rng = b
    y = rng.uniform(0, 2, z.shape)
    ref = F.cross_entropy(t(z), t(y)).item()
    loss = losses.CategoricalCrossentropy(from_logits=True)
    assert np.isclose(loss(y, Value(z)).item(), ref, rtol=1e-9)
    assert gradcheck(lambda p: loss(y, p), z)


# -- the other Keras losses ------------------------------------------------------------


def numpy_reference(name, y, p):
    """Per-sample losses written directly from Keras' documented formulas."""
    eps = 1e-7
    if name == "mape":
        return 100 * np.mean(np.abs(y - p) / np.maximum(np.abs(y), eps), axis=-1)
    if name == "msle":
        return np.mean((np.log1p(np.maximum(p, eps)) - np.log1p(np.maximum(y, eps))) ** 2, -1)
    if name in ("hinge", "squared_hinge"):
        ys = 2 * y - 1  # 0/1 labels become -1/1
        m = np.maximum(1 - ys * p, 0)
        return np.mean(m if name == "hinge" else m * m, axis=-1)
    if name == "logcosh":
        return np.mean(np.log(np.cosh(p - y)), axis=-1)
    if name == "kld":
        yc, pc = np.clip(y, eps, 1), np.clip(p, eps, 1)
        return np.sum(yc * np.log(yc / pc), axis=-1)
    if name == "poisson":
        return np.mean(p - y * np.log(p + eps), axis=-1)
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name", ["mape", "msle", "hinge", "squared_hinge", "logcosh", "kld", "poisson"]
)
@given(b=batch(0.05, 3.0))
def test_other_losses_values_and_gradients(name, b):
    pred, rng = b
    if name in ("hinge", "squared_hinge"):
        y = rng.integers(0, 2, pred.shape).astype(float)
        pred = pred - 1.5  # predictions in (-1.45, 1.5): both sides of the margin
        pred[np.abs(np.abs(pred) - 1) < 0.05] += 0.1  # away from the kink at |p| = 1
    elif name == "kld":
        y = rng.dirichlet(np.ones(pred.shape[1]), len(pred))
        pred = pred / (pred.sum(axis=1, keepdims=True) + 0.1)  # inside (0, 1): no clipping
    else:
        y = rng.uniform(0.5, 3.0, pred.shape)
        if name == "mape":
            y = pred + rng.choice([-1, 1], pred.shape) * rng.uniform(0.1, 1, pred.shape)
    loss = losses.get(name)
    w = weights(rng, len(pred))
    expected = (numpy_reference(name, y, pred) * w).sum() / len(pred)
    assert np.isclose(loss(y, Value(pred), sample_weight=w).item(), expected, rtol=1e-9)
    assert gradcheck(lambda p: loss(y, p), pred)
    assert losses.deserialize(losses.serialize(loss)).name == loss.name


def test_log_cosh_is_stable_for_large_errors():
    out = losses.LogCosh()(np.zeros((1, 2)), Value(np.array([[1000.0, -1000.0]])))
    assert np.isclose(out.item(), 1000.0 - np.log(2.0))


def test_reductions_and_weight_shapes():
    y = np.array([[0.0], [0.0], [0.0]])
    p = Value(np.array([[1.0], [2.0], [3.0]]))  # squared errors 1, 4, 9
    w = np.array([1.0, 0.0, 2.0])
    assert np.isclose(losses.MeanSquaredError()(y, p, sample_weight=w).item(), (1 + 18) / 3)
    got = losses.MeanSquaredError()(y, p, sample_weight=w.reshape(-1, 1)).item()
    assert np.isclose(got, (1 + 18) / 3)
    assert np.isclose(losses.MeanSquaredError()(y, p, sample_weight=2.0).item(), 28 / 3)
    assert np.isclose(losses.MeanSquaredError(reduction="sum")(y, p).item(), 14.0)
    per = losses.MeanSquaredError(reduction="none")(y, p, sample_weight=w)
    np.testing.assert_allclose(per.data, [1.0, 0.0, 18.0])
    with pytest.raises(ValueError, match="Unknown reduction 'mean'"):
        losses.MeanSquaredError(reduction="mean")


def test_docstring_examples():
    assert doctest.testmod(losses).failed == 0


@needs_torch
@given(batch(0.05, 3.0, min_classes=2))
def test_kl_divergence_and_poisson_match_torch(b):
    pred, rng = b
    y = rng.dirichlet(np.ones(pred.shape[1]), len(pred))
    p = pred / (pred.sum(axis=1, keepdims=True) + 0.1)
    ref = F.kl_div(t(p).log(), t(y), reduction="none").sum(dim=-1).mean().item()
    assert np.isclose(losses.KLDivergence()(y, Value(p)).item(), ref, rtol=1e-9)
    counts = rng.poisson(2.0, pred.shape).astype(float)
    ref = F.poisson_nll_loss(t(pred), t(counts), log_input=False, full=False, eps=1e-7)
    assert np.isclose(losses.Poisson()(counts, Value(pred)).item(), ref.item(), rtol=1e-9)
