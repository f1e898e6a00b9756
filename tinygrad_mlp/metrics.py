"""Metrics: how good the predictions are, in numbers a person reads (no gradient).

A metric is a function ``fn(y_true, y_pred) -> np.ndarray`` of *per-sample*
values, shape ``(batch,)``, so a model can weight them and average over
batches. Its ``__name__`` is the key in ``History.history``: Keras' rule is
that a metric given by name keeps that name (``'accuracy'`` stays
``'accuracy'``, ``'mse'`` stays ``'mse'``).

``'accuracy'`` is resolved by the loss, as Keras does: binary cross-entropy
gives binary accuracy, categorical cross-entropy categorical accuracy, sparse
categorical cross-entropy sparse categorical accuracy; with another (or no)
loss it is decided from the shapes at each call.

>>> import numpy as np
>>> binary_accuracy(np.array([[1], [0]]), np.array([[0.9], [0.7]]))
array([1., 0.])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Value
from tinygrad_mlp.losses import _match_shapes

__all__ = [
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "accuracy",
    "mean_squared_error",
    "mean_absolute_error",
    "mse",
    "mae",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "mape",
    "msle",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "confusion_matrix",
    "get",
]

Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]

_EPSILON = 1e-7  # Keras' clipping of probabilities, as in losses


def _array(x: Any, dtype: Any = None) -> np.ndarray:
    """The data of a Value, or the array itself (metrics never need gradients)."""
    return np.asarray(x.data if isinstance(x, Value) else x, dtype=dtype)


def _arrays(y_true: Any, y_pred: Any, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Both as float arrays of one shape; (n,) targets for (n, 1) outputs are fine."""
    return _match_shapes(_array(y_true, dtype=np.float64), _array(y_pred, dtype=np.float64), who)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Per sample: the fraction of outputs where (y_pred > threshold) equals y_true."""
    y_true, y_pred = _arrays(y_true, y_pred, "binary_accuracy")
    hit = (y_pred > threshold).astype(np.float64) == y_true
    return hit.mean(axis=-1)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: 1 if argmax(y_pred) == argmax(y_true) (one-hot targets), else 0."""
    y_true, y_pred = _arrays(y_true, y_pred, "categorical_accuracy")
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: 1 if argmax(y_pred) equals the integer label y_true, else 0."""
    y_true = _array(y_true)
    y_pred = _array(y_pred)
    if y_pred.ndim < 2:
        raise ValueError(
            "sparse_categorical_accuracy expects y_pred of shape (batch, classes), "
            f"received shape {y_pred.shape}"
        )
    labels = y_true.reshape(y_pred.shape[:-1]) if y_true.size == y_pred[..., 0].size else None
    if labels is None:
        raise ValueError(
            f"sparse_categorical_accuracy expects one integer label per sample "
            f"(shape {y_pred.shape[:-1]}), received y_true.shape={y_true.shape}"
        )
    return (labels == y_pred.argmax(axis=-1)).astype(np.float64)


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Keras' 'accuracy' decided from the shapes: one output -> binary; integer labels
    for several outputs -> sparse categorical; otherwise categorical."""
    y_true_a = _array(y_true)
    y_pred_a = _array(y_pred)
    if y_pred_a.ndim < 2 or y_pred_a.shape[-1] == 1:
        return binary_accuracy(y_true_a, y_pred_a)
    if y_true_a.ndim < y_pred_a.ndim or y_true_a.shape[-1] == 1:
        return sparse_categorical_accuracy(y_true_a, y_pred_a)
    return categorical_accuracy(y_true_a, y_pred_a)


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: mean_k (y_pred_k - y_true_k)^2."""
    y_true, y_pred = _arrays(y_true, y_pred, "mean_squared_error")
    return ((y_pred - y_true) ** 2).mean(axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: mean_k |y_pred_k - y_true_k|."""
    y_true, y_pred = _arrays(y_true, y_pred, "mean_absolute_error")
    return np.abs(y_pred - y_true).mean(axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: 100 mean_k |y_true - y_pred| / max(|y_true|, 1e-7)."""
    y_true, y_pred = _arrays(y_true, y_pred, "mean_absolute_percentage_error")
    return 100.0 * (np.abs(y_true - y_pred) / np.maximum(np.abs(y_true), _EPSILON)).mean(axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: mean_k (log(1 + p) - log(1 + y))^2 (both floored at 1e-7)."""
    y_true, y_pred = _arrays(y_true, y_pred, "mean_squared_logarithmic_error")
    d = np.log1p(np.maximum(y_pred, _EPSILON)) - np.log1p(np.maximum(y_true, _EPSILON))
    return (d * d).mean(axis=-1)


def binary_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: mean_k -[y log p + (1-y) log(1-p)], p clipped to [1e-7, 1 - 1e-7]."""
    y_true, y_pred = _arrays(y_true, y_pred, "binary_crossentropy")
    p = np.clip(y_pred, _EPSILON, 1.0 - _EPSILON)
    return -(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)).mean(axis=-1)


def categorical_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: -sum_k y_k log p_k (one-hot y; p renormalised and clipped as Keras)."""
    y_true, y_pred = _arrays(y_true, y_pred, "categorical_crossentropy")
    p = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), _EPSILON, 1.0 - _EPSILON)
    return -(y_true * np.log(p)).sum(axis=-1)


def _labels_for(y_true: Any, y_pred: np.ndarray, who: str) -> np.ndarray:
    y_true = _array(y_true)
    if y_pred.ndim < 2 or y_true.size != y_pred[..., 0].size:
        raise ValueError(
            f"{who} expects y_pred of shape (batch, classes) and one integer label per sample, "
            f"received y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}"
        )
    return y_true.reshape(y_pred.shape[:-1]).astype(np.int64)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: -log p_y for integer labels y (p renormalised and clipped as Keras)."""
    y_pred = _array(y_pred, dtype=np.float64)
    labels = _labels_for(y_true, y_pred, "sparse_categorical_crossentropy")
    p = np.clip(y_pred / y_pred.sum(axis=-1, keepdims=True), _EPSILON, 1.0 - _EPSILON)
    return -np.log(np.take_along_axis(p, labels[..., None], axis=-1)[..., 0])


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """Per sample: 1 if the label is among the k highest scores, else 0."""
    y_pred = _array(y_pred, dtype=np.float64)
    labels = _labels_for(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    score = np.take_along_axis(y_pred, labels[..., None], axis=-1)
    # rank = how many classes score strictly higher than the true one (ties count in favour)
    return ((y_pred > score).sum(axis=-1) < k).astype(np.float64)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """Per sample: 1 if argmax(y_true) is among the k highest scores of y_pred, else 0."""
    y_true, y_pred = _arrays(y_true, y_pred, "top_k_categorical_accuracy")
    return sparse_top_k_categorical_accuracy(y_true.argmax(axis=-1), y_pred, k)


mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error


# -- the confusion matrix -------------------------------------------------------


def _class_labels(y: Any, who: str) -> np.ndarray:
    """Class labels from a label vector, a one-hot/probability matrix (argmax), or a
    single column of probabilities (threshold 0.5)."""
    y = _array(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"confusion_matrix expects {who} as labels (n,), one-hot or probabilities "
            f"(n, classes), received shape {y.shape}"
        )
    if y.dtype.kind == "f" and y.size and not np.all(y == np.round(y)):
        return (y > 0.5).astype(np.int64)  # probabilities of the positive class
    return y.astype(np.int64) if y.dtype.kind in "fb" else y


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> np.ndarray:
    """Counts C[i, j] of samples of true class labels[i] predicted as labels[j].

    Rows are true classes, columns predicted ones (as scikit-learn). ``labels``
    defaults to the sorted classes present in either input; samples whose class
    is not in ``labels`` are left out.

    >>> confusion_matrix([0, 1, 1], [0, 1, 0])
    array([[1, 0],
           [1, 1]])
    """
    t = _class_labels(y_true, "y_true")
    p = _class_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(
            f"confusion_matrix expects y_true and y_pred with the same number of samples, "
            f"received {len(t)} and {len(p)}"
        )
    classes = np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)
    if classes.size == 0:
        raise ValueError("confusion_matrix received no labels")
    index = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
    k = len(classes)
    out = np.zeros((k, k), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist(), strict=True):
        i, j = index.get(a), index.get(b)
        if i is not None and j is not None:
            out[i, j] += 1
    return out


# -- lookup ---------------------------------------------------------------------
# Not a _registry.Registry: metrics are plain functions (a name gives the function,
# renamed to the name asked for, so history keys match what the learner wrote) and
# 'accuracy' resolves by the compiled loss, which no class/config lookup knows.

_BY_NAME: dict[str, Metric] = {
    "accuracy": accuracy,
    "acc": accuracy,
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "msle": mean_squared_logarithmic_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
}


def _loss_name(loss: Any) -> str:
    """A lower-case description of the loss to recognise the cross-entropies."""
    if loss is None:
        return ""
    if isinstance(loss, str):
        return loss.lower()
    if isinstance(loss, type):
        return loss.__name__.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return f"{type(loss).__name__} {name or ''}".lower()


def _accuracy_for(loss: Any) -> Metric:
    name = _loss_name(loss)
    if "sparse" in name:
        return sparse_categorical_accuracy
    if "binary" in name or name == "bce":
        return binary_accuracy
    if "categorical" in name or name == "cce":
        return categorical_accuracy
    return accuracy


def _renamed(fn: Metric, name: str) -> Metric:
    if getattr(fn, "__name__", None) == name:
        return fn

    def metric(y_true: Any, y_pred: Any) -> np.ndarray:
        return fn(y_true, y_pred)

    metric.__name__ = name
    metric.__doc__ = fn.__doc__
    return metric


def get(identifier: str | Metric, loss: Any = None) -> Metric:
    """The per-sample metric for a Keras name (kept as its ``__name__``) or a callable.

    ``'accuracy'``/``'acc'`` become binary, categorical or sparse categorical
    accuracy according to ``loss`` (a name, ``Loss`` instance or class).
    """
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _renamed(_accuracy_for(loss), identifier)
        fn = _BY_NAME.get(key)
        if fn is None:
            raise ValueError(
                f"Unknown metric function: '{identifier}'. Valid names are: "
                f"{', '.join(sorted(_BY_NAME))}"
            )
        return _renamed(fn, identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret metric identifier {identifier!r}: expected a name such as "
        "'accuracy' or a callable fn(y_true, y_pred)"
    )
