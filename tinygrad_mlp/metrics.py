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
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "RootMeanSquaredError",
    "Precision",
    "Recall",
    "AUC",
    "FBetaScore",
    "F1Score",
    "R2Score",
]

MetricFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

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

_BY_NAME: dict[str, MetricFn] = {
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


# ----------------------------------------------------------------------------
# stateful metrics, as Keras 3 has them: update_state / result / reset_state


def _weights(sample_weight: Any, n: int, who: str) -> np.ndarray:
    """Per-sample weights of shape (n,): ones when none are given."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(_array(sample_weight), dtype=np.float64).reshape(-1)
    if w.size == 1:
        return np.full(n, float(w[0]))
    if w.size != n:
        raise ValueError(f"{who}: sample_weight has {w.size} values for {n} samples")
    return w


class Metric:
    """A metric that accumulates over batches: ``update_state``, ``result``, ``reset_state``.

    ``metric(y_true, y_pred)`` updates and returns the result, as in Keras; in
    ``compile(metrics=[...])`` the model resets it each epoch and updates it
    every batch, so the value is over the whole epoch, not a mean of batches.
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or _snake(type(self).__name__)
        self.dtype = dtype or "float32"
        self.reset_state()

    @property
    def __name__(self) -> str:  # the History key, as a metric function's name is
        return self.name

    def reset_state(self) -> None:
        raise TypeError(f"{type(self).__name__} gives no reset_state")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        raise TypeError(f"{type(self).__name__} gives no update_state")

    def result(self) -> float:
        raise TypeError(f"{type(self).__name__} gives no result")

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} result={self.result():.4g}>"


def _snake(name: str) -> str:
    """MeanSquaredError -> mean_squared_error (Keras' default metric names)."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class Mean(Metric):
    """The weighted mean of every value given: sum(w v) / sum(w)."""

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        v = np.asarray(_array(values), dtype=np.float64)  # a NaN makes the mean NaN, as in Keras
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += float(v.size)
            return
        w = np.asarray(_array(sample_weight), dtype=np.float64)
        w = np.broadcast_to(w.reshape(w.shape + (1,) * max(v.ndim - w.ndim, 0)), v.shape)
        self.total += float((v * w).sum())
        self.count += float(w.sum())

    def __call__(self, values: Any, sample_weight: Any = None) -> float:  # type: ignore[override]
        self.update_state(values, sample_weight)
        return self.result()

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The weighted mean over samples of a per-sample metric function ``fn(y_true, y_pred)``."""

    def __init__(self, fn: MetricFn, name: str | None = None, dtype: Any = None, **kwargs: Any):
        self._fn, self._kwargs = fn, kwargs
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        values = np.asarray(self._fn(y_true, y_pred, **self._kwargs), dtype=np.float64)
        values = values.reshape(len(values), -1).mean(axis=1) if values.ndim > 1 else values
        w = _weights(sample_weight, len(values), self.name)
        self.total += float(values @ w)
        self.count += float(w.sum())

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:  # type: ignore[override]
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._kwargs}


def _exact_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    y_true, y_pred = _arrays(y_true, y_pred, "accuracy")
    return (y_true == y_pred).astype(np.float64).mean(axis=-1)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(_exact_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the binary label."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class is the one-hot label's."""

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class is the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label is among the k highest predictions."""

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class MeanSquaredError(MeanMetricWrapper):
    """The weighted mean over samples of mean((y_pred - y_true)^2)."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The weighted mean over samples of mean(|y_pred - y_true|)."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the weighted mean of (y_pred - y_true)^2 over every element."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        y_true, y_pred = _arrays(y_true, y_pred, self.name)
        super().update_state((y_pred - y_true) ** 2, sample_weight)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:  # type: ignore[override]
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def result(self) -> float:
        return float(np.sqrt(super().result()))


class _Confusion(Metric):
    """Weighted true/false positive/negative counts at one or more thresholds."""

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None):
        t = 0.5 if thresholds is None else thresholds
        self.thresholds = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if ((self.thresholds < 0) | (self.thresholds > 1)).any():
            raise ValueError(f"thresholds must be in [0, 1], received {thresholds!r}")
        self._scalar = np.ndim(t) == 0
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        n = len(self.thresholds)
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = _arrays(y_true, y_pred, self.name)
        w = _weights(sample_weight, len(y_true), self.name)
        w = np.broadcast_to(w.reshape((-1,) + (1,) * (y_true.ndim - 1)), y_true.shape).reshape(-1)
        truth = y_true.reshape(-1) > 0.5
        predicted = y_pred.reshape(-1)[None, :] > self.thresholds[:, None]  # Keras: strictly above
        self.tp += (predicted & truth) @ w
        self.fp += (predicted & ~truth) @ w
        self.fn += (~predicted & truth) @ w
        self.tn += (~predicted & ~truth) @ w

    def _value(self, v: np.ndarray) -> Any:
        return float(v[0]) if self._scalar else v

    def get_config(self) -> dict[str, Any]:
        t = self.thresholds
        return {**super().get_config(), "thresholds": float(t[0]) if self._scalar else t.tolist()}


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, 0 where b is 0 (Keras' divide_no_nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), 0.0)


class Precision(_Confusion):
    """tp / (tp + fp) at ``thresholds`` (0.5 by default): the predicted positives that are."""

    def __init__(self, thresholds: Any = None, name: str = "precision", dtype: Any = None):
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self) -> Any:
        return self._value(_divide(self.tp, self.tp + self.fp))


class Recall(_Confusion):
    """tp / (tp + fn) at ``thresholds`` (0.5 by default): of the positives, how many are found."""

    def __init__(self, thresholds: Any = None, name: str = "recall", dtype: Any = None):
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self) -> Any:
        return self._value(_divide(self.tp, self.tp + self.fn))


class AUC(_Confusion):
    """Area under the ROC (or precision-recall) curve, from counts at Keras' thresholds.

    ``num_thresholds`` evenly spaced thresholds in (0, 1), plus one just below 0
    and one just above 1; ``curve='ROC'`` sums trapezoids of TPR over FPR,
    ``curve='PR'`` integrates precision over recall with Davis & Goadrich's
    interpolation, as Keras does.
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str = "auc",
        dtype: Any = None,
        thresholds: Any = None,
    ) -> None:
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"curve must be 'ROC' or 'PR', received {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                "summation_method must be 'interpolation', 'minoring' or 'majoring', "
                f"received {summation_method!r}"
            )
        if thresholds is None:
            if not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(
                    f"num_thresholds must be an integer > 1, received {num_thresholds!r}"
                )
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        else:
            inner = sorted(float(t) for t in np.atleast_1d(thresholds))
        self.num_thresholds = len(inner) + 2
        self.curve, self.summation_method = curve.upper(), summation_method
        self._inner = inner
        super().__init__(thresholds=np.array(inner or [0.5]), name=name, dtype=dtype)
        eps = 1e-7
        self.thresholds = np.array([0.0 - eps, *inner, 1.0 + eps])
        self.reset_state()

    def result(self) -> float:
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[: n - 1] - tp[1:]
            p = tp + fp
            dp = p[: n - 1] - p[1:]
            slope = _divide(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            both = (p[: n - 1] > 0) & (p[1:] > 0)
            ratio = np.where(both, _divide(p[: n - 1], np.maximum(p[1:], 0)), 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                increment = _divide(
                    slope * (dtp + intercept * np.log(np.where(ratio > 0, ratio, 1.0))),
                    np.maximum(tp[1:] + fn[1:], 0),
                )
            return float(increment.sum())
        recall = _divide(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide(fp, fp + tn), recall
        else:
            x, y = recall, _divide(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[: n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[: n - 1], y[1:])
        else:
            heights = np.maximum(y[: n - 1], y[1:])
        return float(((x[: n - 1] - x[1:]) * heights).sum())

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
        }


class FBetaScore(Metric):
    """F-beta per class, or averaged: (1 + b^2) P R / (b^2 P + R), from weighted counts.

    ``threshold=None`` takes each sample's highest prediction as its class
    (Keras' rule); ``average`` is None (a score per class), 'micro', 'macro' or
    'weighted' (by each class's support).
    """

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str = "fbeta_score",
        dtype: Any = None,
    ) -> None:
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"average must be None, 'micro', 'macro' or 'weighted', received {average!r}"
            )
        if not beta > 0:
            raise ValueError(f"beta must be a positive number, received {beta!r}")
        if threshold is not None and not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], received {threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = self.support = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = _arrays(y_true, y_pred, self.name)
        if y_true.ndim != 2:
            raise ValueError(
                f"{self.name} expects 2-D inputs (samples, classes), received shape {y_true.shape}"
            )
        if self.threshold is None:
            predicted = y_pred >= y_pred.max(axis=-1, keepdims=True)
        else:
            predicted = y_pred > self.threshold
        w = _weights(sample_weight, len(y_true), self.name)[:, None]
        truth = y_true
        counts = (
            (w * predicted * truth).sum(0),
            (w * predicted * (1 - truth)).sum(0),
            (w * (1 - predicted) * truth).sum(0),
            (w * truth).sum(0),
        )
        if self.tp is None:
            self.tp, self.fp, self.fn, self.support = counts
        else:
            self.tp, self.fp, self.fn, self.support = (
                a + b
                for a, b in zip((self.tp, self.fp, self.fn, self.support), counts, strict=True)
            )

    def result(self) -> Any:
        if self.tp is None:
            return 0.0
        tp, fp, fn = self.tp, self.fp, self.fn
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        eps = 1e-7
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        b2 = self.beta**2
        score = (1 + b2) * _divide(precision * recall, b2 * precision + recall)
        if self.average == "weighted":
            weights = self.support / self.support.sum() if self.support.sum() else self.support
            return float((score * weights).sum())
        if self.average == "macro":
            return float(np.mean(score))
        return float(score) if np.ndim(score) == 0 else score

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}  # fmt: skip


class F1Score(FBetaScore):
    """F1 = 2 P R / (P + R), per class or averaged (see ``FBetaScore``)."""

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str = "f1_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)


class R2Score(Metric):
    """The coefficient of determination 1 - SS_res / SS_tot, per output then averaged.

    ``class_aggregation``: 'uniform_average' (the default), 'variance_weighted_average'
    or None (one score per output); ``num_regressors`` p gives the adjusted R^2,
    ``1 - (1 - R^2) (n - 1) / (n - p - 1)``.
    """

    def __init__(
        self,
        class_aggregation: str | None = "uniform_average",
        num_regressors: int = 0,
        name: str = "r2_score",
        dtype: Any = None,
    ) -> None:
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(
                "class_aggregation must be None, 'uniform_average' or "
                f"'variance_weighted_average', received {class_aggregation!r}"
            )
        if not isinstance(num_regressors, int) or num_regressors < 0:
            raise ValueError(
                f"num_regressors must be a non-negative integer, received {num_regressors!r}"
            )
        self.class_aggregation, self.num_regressors = class_aggregation, num_regressors
        super().__init__(name=name, dtype=dtype)

    def reset_state(self) -> None:
        self.sums = self.squares = self.residuals = self.counts = None
        self.samples = 0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true, y_pred = _arrays(y_true, y_pred, self.name)
        if y_true.ndim == 1:
            y_true, y_pred = y_true[:, None], y_pred[:, None]
        w = _weights(sample_weight, len(y_true), self.name)[:, None]
        parts = ((w * y_true).sum(0), (w * y_true**2).sum(0), (w * (y_true - y_pred) ** 2).sum(0),
                 np.broadcast_to(w, y_true.shape).sum(0))  # fmt: skip
        if self.sums is None:
            self.sums, self.squares, self.residuals, self.counts = parts
        else:
            old = (self.sums, self.squares, self.residuals, self.counts)
            self.sums, self.squares, self.residuals, self.counts = (
                a + b for a, b in zip(old, parts, strict=True)
            )
        self.samples += len(y_true)

    def result(self) -> Any:
        if self.sums is None:
            return 0.0
        mean = self.sums / self.counts
        total = self.squares - self.sums * mean
        raw = 1.0 - _divide(self.residuals, total)
        raw = np.where(total == 0, 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = float(np.mean(raw))
        elif self.class_aggregation == "variance_weighted_average":
            r2 = float(_divide(np.array((total * raw).sum()), np.array(total.sum())))
        else:
            r2 = raw
        p, n = self.num_regressors, self.samples
        if p:
            if n - p - 1 <= 0:
                raise ValueError(
                    f"the adjusted R2 needs more samples ({n}) than num_regressors + 1"
                )
            r2 = 1.0 - (1.0 - np.asarray(r2)) * (n - 1) / (n - p - 1)
            r2 = float(r2) if np.ndim(r2) == 0 else r2
        return r2

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}  # fmt: skip


_CLASSES: dict[str, type[Metric]] = {
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "r2_score": R2Score,
    "root_mean_squared_error": RootMeanSquaredError,
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


def _accuracy_for(loss: Any) -> MetricFn:
    name = _loss_name(loss)
    if "sparse" in name:
        return sparse_categorical_accuracy
    if "binary" in name or name == "bce":
        return binary_accuracy
    if "categorical" in name or name == "cce":
        return categorical_accuracy
    return accuracy


def _renamed(fn: MetricFn, name: str) -> MetricFn:
    if getattr(fn, "__name__", None) == name:
        return fn

    def metric(y_true: Any, y_pred: Any) -> np.ndarray:
        return fn(y_true, y_pred)

    metric.__name__ = name
    metric.__doc__ = fn.__doc__
    return metric


def get(identifier: str | MetricFn, loss: Any = None) -> MetricFn:
    """The per-sample metric for a Keras name (kept as its ``__name__``) or a callable.

    ``'accuracy'``/``'acc'`` become binary, categorical or sparse categorical
    accuracy according to ``loss`` (a name, ``Loss`` instance or class).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _renamed(_accuracy_for(loss), identifier)
        if key in _CLASSES:  # the stateful ones: counts over the epoch, not a mean of samples
            return _CLASSES[key](name=identifier)
        fn = _BY_NAME.get(key)
        if fn is None:
            from tinygrad_mlp._registry import registered

            custom = registered(identifier)
            if custom is not None:
                return custom() if isinstance(custom, type) else custom
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
