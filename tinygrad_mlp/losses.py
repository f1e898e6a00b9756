"""Loss functions: how far the predictions ``y_pred`` are from the targets ``y_true``.

A ``Loss`` is called as ``loss(y_true, y_pred, sample_weight=None)`` with
``y_true`` a NumPy array (targets carry no gradient), ``y_pred`` a ``Value`` of
shape ``(batch, ...)``, and returns a 0-d ``Value``: the per-sample losses
weighted and averaged over the batch, ``sum_i w_i l_i / batch`` (Keras'
``sum_over_batch_size`` reduction). A per-sample loss averages (or, for the
categorical cross-entropies, sums) over the last axis.

Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` before the log, like Keras.
With ``from_logits=True`` the cross-entropies take raw scores and use one fused,
stable engine op each (finite for logits of +-1000, exact gradient
``sigmoid(z) - y`` / ``softmax(z) - y``); ``with_logits()`` gives that copy, so a
model can fuse its last sigmoid/softmax into the loss.

The function forms (``mean_squared_error(y_true, y_pred)``) return the
per-sample losses, shape ``(batch,)``, as in Keras.

>>> import numpy as np
>>> from tinygrad_mlp.engine import Value
>>> MeanSquaredError()(np.array([1.0, 2.0]), Value([[1.5], [2.0]])).item()
0.125
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp import _fused
from tinygrad_mlp._registry import Configurable, Registry
from tinygrad_mlp.engine import Value, _const, _raw
from tinygrad_mlp.ops import _sigmoid, _softmax

__all__ = [
    "EPSILON",
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "Hinge",
    "SquaredHinge",
    "LogCosh",
    "KLDivergence",
    "Poisson",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "hinge",
    "squared_hinge",
    "log_cosh",
    "kl_divergence",
    "poisson",
    "sigmoid_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits",
    "get",
    "serialize",
    "deserialize",
]

EPSILON = 1e-7  # Keras' backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]


# ----------------------------------------------------------------------------
# fused, stable engine ops for the logits forms


def _sigmoid_bce_bw(g, out, ctx, z):
    """d/dz [max(z,0) - z y + log(1 + e^-|z|)] = sigmoid(z) - y."""
    y, probs = ctx
    # ordinary backward reuses the forward's sigmoid; create_graph records it as an op
    s = _sigmoid(z) if isinstance(z, Value) else probs
    return (g * (s - y),)


def sigmoid_cross_entropy_with_logits(y_true: np.ndarray, logits: Value) -> Value:
    """Elementwise -[y log sigma(z) + (1-y) log(1 - sigma(z))] = max(z,0) - z y + log1p(e^-|z|).

    Same shape as ``logits``; finite for any finite ``z``; gradient ``sigmoid(z) - y``.
    """
    z = logits.data
    y = np.asarray(y_true, dtype=z.dtype)
    data, probs = _sigmoid_ce_arrays(z, y, logits.requires_grad)
    return Value._make(data, (logits,), "sigmoid_cross_entropy", _sigmoid_bce_bw, (y, probs))


def _sigmoid_ce_arrays(z: np.ndarray, y: np.ndarray, probs: bool) -> tuple[Any, Any]:
    """The NumPy of the op (shared with the replayed step): elementwise losses, and
    sigmoid(z) for the gradient when ``probs``."""
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    data = np.maximum(z, 0) - z * y + np.log1p(e)
    if not probs:
        return data, None
    return data, (np.where(z >= 0, 1.0, e) / (1.0 + e)).astype(z.dtype, copy=False)


def _softmax_ce_bw(g, out, ctx, z):
    """d/dz [logsumexp(z) - sum y z] = softmax(z) sum(y) - y  (= softmax(z) - y for one-hot y)."""
    y, y_sum, probs = ctx
    s = _softmax(z, -1) if isinstance(z, Value) else probs
    g = g.reshape(tuple(g.shape) + (1,))  # one gradient per sample, broadcast over classes
    return (g * (s * y_sum - y),)


def softmax_cross_entropy_with_logits(y_true: np.ndarray, logits: Value) -> Value:
    """Per-sample -sum_k y_k log softmax(z)_k = logsumexp(z) - sum_k y_k z_k (last axis).

    ``logits`` (batch, classes) gives shape (batch,); stable by shifting with the
    row maximum; gradient ``softmax(z) - y`` for targets that sum to 1.
    """
    z = logits.data
    y = np.asarray(y_true, dtype=z.dtype)
    data, y_sum, probs = _softmax_ce_arrays(z, y, logits.requires_grad)
    ctx = (y, y_sum, probs)
    return Value._make(data, (logits,), "softmax_cross_entropy", _softmax_ce_bw, ctx)


def _softmax_ce_arrays(z: np.ndarray, y: np.ndarray, probs: bool) -> tuple[Any, Any, Any]:
    """The NumPy of the op (shared with the replayed step): per-sample losses, the targets'
    row sums, and softmax(z) for the gradient when ``probs``."""
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    # logsumexp(z) - sum y z = log(total) - sum y (z - max), as y sums to y_sum
    y_sum = y.sum(axis=-1, keepdims=True)
    data = (np.log(total) * y_sum - (y * shifted).sum(axis=-1, keepdims=True))[..., 0]
    if not probs:
        return data, y_sum, None
    e /= total
    return data, y_sum, e


def _sparse_softmax_ce_bw(g, out, ctx, z):
    """d/dz [logsumexp(z) - z_label] = softmax(z) - onehot(label)."""
    labels, probs = ctx
    rows = np.arange(len(labels))
    if isinstance(z, Value):  # create_graph: record softmax as an op
        onehot = np.zeros(z.shape, dtype=z.dtype)
        onehot[rows, labels] = 1.0
        return (g.reshape(tuple(g.shape) + (1,)) * (_softmax(z, -1) - onehot),)
    return (_sparse_softmax_ce_grad(probs.copy(), rows, labels, g),)


def _sparse_softmax_ce_grad(probs: np.ndarray, rows: Any, labels: Any, g: Any) -> np.ndarray:
    """(softmax(z) - onehot(label)) g, in place in ``probs``; ``g`` one gradient per sample."""
    if _fused.sparse_softmax_ce_grad(probs, labels, g):
        return probs
    probs[rows, labels] -= 1.0
    probs *= g[:, None]
    return probs


def _sparse_softmax_cross_entropy_with_logits(labels: np.ndarray, logits: Value) -> Value:
    """Per-sample logsumexp(z) - z_label for (batch, classes) logits and integer labels.

    The same loss and gradient as ``softmax_cross_entropy_with_logits`` with
    one-hot targets, gathering the labelled logit instead of building the
    one-hot matrix (fit's sparse classifiers pay this every batch).
    """
    z = logits.data
    data, probs = _sparse_softmax_ce_arrays(z, np.arange(len(labels)), labels,
                                            logits.requires_grad)  # fmt: skip
    ctx = (labels, probs)
    return Value._make(data, (logits,), "softmax_cross_entropy", _sparse_softmax_ce_bw, ctx)


def _sparse_softmax_ce_arrays(z: np.ndarray, rows: Any, labels: Any, probs: bool) -> tuple:
    """The op's arrays (shared with the replayed step): per-sample losses
    log(sum_j e^(z_j - m)) - (z_label - m), m the row's max, and softmax(z) for the gradient
    when ``probs``. numba's loops give the same bits in a third of the time (``_fused``)."""
    fused = _fused.sparse_softmax_ce(z, labels, probs)
    if fused is not None:
        return fused
    # the max over a transposed copy's rows: one pass over the samples per class (NumPy's
    # reduction along each sample's few classes takes 5x as long)
    top = np.maximum.reduce(z.T.copy(), axis=0)
    shifted = z - top[:, None]
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=-1)
    data = np.log(total) - shifted[rows, labels]
    if not probs:
        return data, None
    e /= total[:, None]
    return data, e


# ----------------------------------------------------------------------------
# shape handling shared by every loss


def _as_value(y_pred: Any) -> Value:
    if isinstance(y_pred, Value):
        if y_pred.is_scalar:
            raise TypeError(
                "losses expect a tensor Value of shape (batch, ...) for y_pred, "
                f"received a scalar Value ({y_pred.data!r})"
            )
        return y_pred
    arr = np.asarray(y_pred)
    return _const(arr if arr.dtype.kind == "f" else arr.astype(np.float64))


def _targets(y_true: Any, like: np.ndarray) -> np.ndarray:
    y = _raw(y_true)
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"loss targets must be numeric, received dtype {y.dtype}")
    return y.astype(like.dtype, copy=False)


def _match_shapes(y: np.ndarray, pred: Any, who: str) -> tuple[np.ndarray, Any]:
    """Make targets and predictions the same shape: (n,) targets for (n, 1) outputs work.

    A 1-D prediction is treated as (n, 1): one output per sample. ``pred`` is a
    ``Value`` here and a NumPy array in ``metrics``, which share this rule.
    """
    given = y.shape
    if pred.ndim == 1:
        pred = pred.reshape(-1, 1)
    if y.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
        y = y.reshape(y.shape + (1,))
    elif y.ndim == pred.ndim + 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.shape != pred.shape:
        raise ValueError(
            f"{who} expects y_true and y_pred of the same shape, received "
            f"y_true.shape={given} and y_pred.shape={pred.shape}"
        )
    return y, pred


def _weighted(per_sample: Value, sample_weight: Any, who: str) -> Value:
    """Per-sample losses times their weights; weights (n,) or (n, 1) or a number."""
    if sample_weight is None:
        return per_sample
    w = np.asarray(_raw(sample_weight), dtype=per_sample.dtype)
    if w.ndim > 1 and w.shape[-1] == 1 and w.ndim > per_sample.ndim:
        w = w.reshape(w.shape[:-1])
    if w.ndim and w.shape != per_sample.shape:
        if per_sample.ndim > 1 and w.shape == per_sample.shape[:1]:
            w = w.reshape(w.shape + (1,) * (per_sample.ndim - 1))  # one weight per sample
        else:
            raise ValueError(
                f"{who} expects sample_weight of shape {per_sample.shape[:1]} (one weight per "
                f"sample), received shape {w.shape}"
            )
    return per_sample * w


def _reduce(
    per_sample: Value, sample_weight: Any, who: str, reduction: str = "sum_over_batch_size"
) -> Value:
    """sum_i w_i l_i / n over the batch (Keras' sum_over_batch_size) as a 0-d Value;
    ``'sum'`` leaves out the division, ``'none'`` returns the weighted losses."""
    weighted = _weighted(per_sample, sample_weight, who)
    if reduction in ("none", None):
        return weighted
    return weighted.sum() if reduction == "sum" else weighted.mean()


def _mean_last(x: Value) -> Value:
    if x.shape[-1] == 1:  # one output per sample (binary, regression): the mean is itself
        return x.reshape(x.shape[:-1])
    return x.mean(axis=-1)


# ----------------------------------------------------------------------------
# per-sample loss functions (Keras' function forms)


def mean_squared_error(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k (y_pred_k - y_true_k)^2 over the last axis; shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "mean_squared_error")
    d = pred - y
    return _mean_last(d * d)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k |y_pred_k - y_true_k| over the last axis; shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "mean_absolute_error")
    return _mean_last((pred - y).abs())


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Value:
    """l = mean_k of e^2/2 for |e| <= delta, else delta (|e| - delta/2), e = y_pred - y_true."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "huber")
    a = (pred - y).abs()
    q = a.clip(None, delta)  # the quadratic part, capped at delta
    return _mean_last(0.5 * q * q + delta * (a - q))


def binary_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0
) -> Value:
    """l = mean_k -[y log p + (1-y) log(1-p)], p clipped to [1e-7, 1-1e-7]; shape (batch,).

    ``label_smoothing`` s moves targets to y (1 - s) + s / 2.
    """
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "binary_crossentropy")
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        return _mean_last(sigmoid_cross_entropy_with_logits(y, pred))
    p = pred.clip(EPSILON, 1.0 - EPSILON)
    return _mean_last(-(y * p.log() + (1.0 - y) * (1.0 - p).log()))


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Value:
    """l = -sum_k y_k log p_k over classes (one-hot y_true); shape (batch,).

    Probabilities are renormalised to sum to 1 and clipped to [1e-7, 1-1e-7] as
    Keras does; ``label_smoothing`` s gives targets y (1 - s) + s / classes.
    """
    if axis != -1:
        raise ValueError(f"categorical_crossentropy supports axis=-1 only, received axis={axis}")
    pred = _as_value(y_pred)
    y = _targets(y_true, pred.data)
    if y.shape != pred.shape:
        raise ValueError(
            "categorical_crossentropy expects one-hot y_true of the same shape as y_pred, "
            f"received y_true.shape={y.shape} and y_pred.shape={pred.shape} (for integer "
            "labels use sparse_categorical_crossentropy)"
        )
    if pred.ndim < 1:
        raise ValueError("categorical_crossentropy expects y_pred with a class axis")
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / pred.shape[-1]
    if from_logits:
        return softmax_cross_entropy_with_logits(y, pred)
    p = pred / pred.sum(axis=-1, keepdims=True)
    p = p.clip(EPSILON, 1.0 - EPSILON)
    return -(y * p.log()).sum(axis=-1)


def _sparse_labels(y_true: Any, pred: Value, who: str) -> np.ndarray:
    """Integer class labels of shape pred.shape[:-1], checked against the class count."""
    y = np.asarray(_raw(y_true))
    batch, classes = pred.shape[:-1], pred.shape[-1]
    if y.shape == batch + (1,):
        y = y.reshape(batch)
    if y.shape != batch:
        raise ValueError(
            f"{who} expects integer labels of shape {batch} (or {batch + (1,)}) for "
            f"y_pred.shape={pred.shape}, received y_true.shape={np.asarray(_raw(y_true)).shape}"
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            bad = y[~(np.isfinite(y) & (y == np.round(y)))].ravel()[:5]
            raise ValueError(
                f"{who} expects integer class labels in [0, {classes}), received "
                f"non-integer labels such as {bad.tolist()}"
            )
    elif y.dtype.kind not in "biu":
        raise ValueError(f"{who} expects integer class labels, received dtype {y.dtype}")
    labels = y.astype(np.int64)
    out_of_range = (labels < 0) | (labels >= classes)
    if out_of_range.any():
        bad = np.unique(labels[out_of_range])[:5]
        raise ValueError(
            f"{who} expects integer class labels in [0, {classes}) for y_pred with {classes} "
            f"classes, received labels {bad.tolist()}"
        )
    return labels


def _one_hot(labels: np.ndarray, classes: int, dtype: np.dtype) -> np.ndarray:
    out = np.zeros(labels.shape + (classes,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1.0, axis=-1)
    return out


def sparse_categorical_crossentropy(
    y_true: Any, y_pred: Any, from_logits: bool = False, axis: int = -1
) -> Value:
    """l = -log p_{y} for integer labels y in [0, classes); shape (batch,)."""
    if axis != -1:
        raise ValueError(
            f"sparse_categorical_crossentropy supports axis=-1 only, received axis={axis}"
        )
    pred = _as_value(y_pred)
    if pred.ndim < 2:
        raise ValueError(
            "sparse_categorical_crossentropy expects y_pred of shape (batch, classes), "
            f"received shape {pred.shape}"
        )
    labels = _sparse_labels(y_true, pred, "sparse_categorical_crossentropy")
    if from_logits and pred.ndim == 2:
        return _sparse_softmax_cross_entropy_with_logits(labels, pred)
    y = _one_hot(labels, pred.shape[-1], pred.dtype)
    if from_logits:
        return softmax_cross_entropy_with_logits(y, pred)
    p = pred / pred.sum(axis=-1, keepdims=True)
    p = p.clip(EPSILON, 1.0 - EPSILON)
    return -(p.log() * y).sum(axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Value:
    """l = 100 mean_k |y_true - y_pred| / max(|y_true|, 1e-7); shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "mean_absolute_percentage_error")
    scale = 100.0 / np.maximum(np.abs(y), EPSILON)
    return _mean_last((pred - y).abs() * scale)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k (log(1 + max(p, 1e-7)) - log(1 + max(y, 1e-7)))^2; shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "mean_squared_logarithmic_error")
    d = (pred.clip(EPSILON, None) + 1.0).log() - np.log1p(np.maximum(y, EPSILON))
    return _mean_last(d * d)


def _signed_labels(y: np.ndarray) -> np.ndarray:
    """Hinge losses take labels -1/1; 0/1 labels are converted, as Keras does."""
    return 2.0 * y - 1.0 if np.isin(y, (0.0, 1.0)).all() else y


def hinge(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k max(1 - y p, 0) with y in {-1, 1} (0/1 labels converted); shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "hinge")
    return _mean_last((1.0 - pred * _signed_labels(y)).relu())


def squared_hinge(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k max(1 - y p, 0)^2 with y in {-1, 1} (0/1 labels converted); shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "squared_hinge")
    m = (1.0 - pred * _signed_labels(y)).relu()
    return _mean_last(m * m)


def log_cosh(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k log cosh(e) = e + softplus(-2e) - log 2, e = y_pred - y_true (stable)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "log_cosh")
    e = pred - y
    return _mean_last(e + (-2.0 * e).softplus() - math.log(2.0))


def kl_divergence(y_true: Any, y_pred: Any) -> Value:
    """l = sum_k y log(y / p), y and p clipped to [1e-7, 1]; shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "kl_divergence")
    y = np.clip(y, EPSILON, 1.0)
    return (y * (np.log(y) - pred.clip(EPSILON, 1.0).log())).sum(axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Value:
    """l = mean_k p - y log(p + 1e-7): the Poisson negative log-likelihood; shape (batch,)."""
    pred = _as_value(y_pred)
    y, pred = _match_shapes(_targets(y_true, pred.data), pred, "poisson")
    return _mean_last(pred - y * (pred + EPSILON).log())


# ----------------------------------------------------------------------------
# Loss classes


class Loss(Configurable, ABC):
    """Base class: ``call(y_true, y_pred)`` gives per-sample losses, ``__call__`` reduces them."""

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size") -> None:
        if reduction not in ("sum_over_batch_size", "sum", "none", None):
            raise ValueError(
                f"Unknown reduction {reduction!r}; valid reductions are "
                "'sum_over_batch_size', 'sum', 'none'"
            )
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    @abstractmethod
    def call(self, y_true: np.ndarray, y_pred: Value) -> Value:
        """Per-sample losses (shape ``y_pred.shape[:-1]``) as a Value."""

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Value:
        """The loss of a batch: ``sum_i w_i l_i / batch`` as a 0-d Value."""
        per_sample = self.call(y_true, _as_value(y_pred))
        return _reduce(per_sample, sample_weight, type(self).__name__, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class LossFunctionWrapper(Loss):
    """Wraps a function ``fn(y_true, y_pred) -> per-sample (or scalar) Value`` as a Loss."""

    def __init__(self, fn: Callable, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn
        self.kwargs = kwargs

    def call(self, y_true: Any, y_pred: Value) -> Value:
        out = self.fn(y_true, y_pred, **self.kwargs)
        if not isinstance(out, Value):
            out = _const(np.asarray(out, dtype=y_pred.dtype))
        return out

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Value:
        """Reduce the function's per-sample losses; a function returning one number is kept."""
        out = self.call(y_true, _as_value(y_pred))
        if out.ndim == 0:
            if sample_weight is not None:
                raise ValueError(
                    f"loss function {self.name!r} returned a single number, so it cannot "
                    "apply per-sample weights; return one loss per sample (shape (batch,))"
                )
            # a scalar Value (Python float) becomes a 0-d tensor like every other loss
            return out * np.ones((), dtype=np.float64) if out.is_scalar else out
        return _reduce(out, sample_weight, self.name, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, **self.kwargs}


class MeanSquaredError(Loss):
    """Mean of squared errors: mean_k (y_pred - y_true)^2 per sample."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors: mean_k |y_pred - y_true| per sample."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error"):
        super().__init__(name=name, reduction=reduction)

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return mean_absolute_error(y_true, y_pred)


class Huber(Loss):
    """Quadratic for errors up to ``delta``, linear beyond: robust to outliers."""

    def __init__(
        self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str = "huber_loss"
    ):
        super().__init__(name=name, reduction=reduction)
        if delta <= 0:
            raise ValueError(f"Huber expects delta > 0, received delta={delta}")
        self.delta = float(delta)

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return huber(y_true, y_pred, self.delta)

    def get_config(self) -> dict:
        return {"delta": self.delta, **super().get_config()}


def _check_label_smoothing(label_smoothing: float) -> float:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"label_smoothing must lie in [0, 1], received label_smoothing={label_smoothing}"
        )
    return float(label_smoothing)


class _CrossentropyBase(Loss):
    """Shared by the cross-entropies: ``from_logits`` and ``with_logits()``."""

    def __init__(self, from_logits: bool, name: str, reduction: str) -> None:
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)

    def with_logits(self) -> Loss:
        """A copy that takes logits: a model fuses its final sigmoid/softmax into it."""
        other = copy.copy(self)
        other.from_logits = True
        return other

    def get_config(self) -> dict:
        return {"from_logits": self.from_logits, **super().get_config()}


class BinaryCrossentropy(_CrossentropyBase):
    """-[y log p + (1-y) log(1-p)], averaged over the last axis: one sigmoid output per label."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        reduction: str = "sum_over_batch_size",
        name: str = "binary_crossentropy",
    ):
        super().__init__(from_logits, name, reduction)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)

    def get_config(self) -> dict:
        return {"label_smoothing": self.label_smoothing, **super().get_config()}


class CategoricalCrossentropy(_CrossentropyBase):
    """-sum_k y_k log p_k with one-hot targets: a softmax output over classes."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
    ):
        super().__init__(from_logits, name, reduction)
        self.label_smoothing = _check_label_smoothing(label_smoothing)
        self.axis = axis

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return categorical_crossentropy(
            y_true, y_pred, self.from_logits, self.label_smoothing, self.axis
        )

    def get_config(self) -> dict:
        return {"label_smoothing": self.label_smoothing, "axis": self.axis, **super().get_config()}


class SparseCategoricalCrossentropy(_CrossentropyBase):
    """-log p_y with integer labels y in [0, classes): a softmax output over classes."""

    def __init__(
        self,
        from_logits: bool = False,
        reduction: str = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
    ):
        super().__init__(from_logits, name, reduction)

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)


def _simple_loss(fn: Callable, class_name: str, name: str) -> type:
    """A Loss class with only ``reduction`` and ``name`` around a per-sample function."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = name) -> None:
        Loss.__init__(self, name=name, reduction=reduction)

    def call(self, y_true: Any, y_pred: Value) -> Value:
        return fn(y_true, y_pred)

    doc = fn.__doc__.split(";")[0].replace("l = ", "Per sample ")
    cls = type(class_name, (Loss,), {"__init__": __init__, "call": call, "__doc__": doc})
    cls.__module__ = __name__
    return cls


MeanAbsolutePercentageError = _simple_loss(
    mean_absolute_percentage_error, "MeanAbsolutePercentageError", "mean_absolute_percentage_error"
)
MeanSquaredLogarithmicError = _simple_loss(
    mean_squared_logarithmic_error, "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error"
)
Hinge = _simple_loss(hinge, "Hinge", "hinge")
SquaredHinge = _simple_loss(squared_hinge, "SquaredHinge", "squared_hinge")
LogCosh = _simple_loss(log_cosh, "LogCosh", "log_cosh")
KLDivergence = _simple_loss(kl_divergence, "KLDivergence", "kl_divergence")
Poisson = _simple_loss(poisson, "Poisson", "poisson")


# ----------------------------------------------------------------------------
# lookup

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Hinge,
        SquaredHinge,
        LogCosh,
        KLDivergence,
        Poisson,
    )
}
_NAMES: dict[str, type] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "poisson": Poisson,
}
_FUNCTIONS: dict[Callable, type] = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    huber: Huber,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    log_cosh: LogCosh,
    kl_divergence: KLDivergence,
    poisson: Poisson,
}

# Keras' upper-case aliases
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh


_REGISTRY = Registry(
    "loss",
    Loss,
    _CLASSES,
    _NAMES,
    label="loss function",
    expected="a name such as 'mse', a Loss instance or class, or a callable",
)


def get(identifier: str | dict | Loss | type | Callable) -> Loss:
    """A ``Loss`` from a Keras name or alias (``'mse'``), a config dict, a ``Loss``
    instance or class, or a function ``fn(y_true, y_pred) -> Value``."""
    # Special case: a plain function is a loss too; Keras' own functions become
    # their Loss class (so they save by config), any other is wrapped.
    if callable(identifier) and not isinstance(identifier, (Loss, type)):
        cls = _FUNCTIONS.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    return _REGISTRY.get(identifier)


def serialize(loss: Loss | Callable) -> dict | str:
    """``{'class_name': 'BinaryCrossentropy', 'config': {...}}`` for Loss objects."""
    # Special case: wrapped and plain functions (lambdas too) are saved by name.
    if isinstance(loss, LossFunctionWrapper):
        return loss.name
    if isinstance(loss, Loss):
        return _REGISTRY.serialize(loss)
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}")
    return name


def deserialize(config: dict | str) -> Loss:
    """Inverse of ``serialize``."""
    return _REGISTRY.deserialize(config)
