"""Preparing data: one-hot labels, scaling, the 60/20/20 split, NaN checks.

``tinygrad_mlp.utils`` re-exports these under Keras' names, so
``from tinygrad_mlp.utils import to_categorical`` works as in Keras.

Example::

    from tinygrad_mlp.datasets import circle
    from tinygrad_mlp.preprocessing import StandardScaler, train_val_test_split

    x, y = circle(n=1000, seed=0)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = train_val_test_split(x, y, seed=0)
    scaler = StandardScaler().fit(x_train)        # statistics of the training data only
    x_train, x_val, x_test = (scaler.transform(a) for a in (x_train, x_val, x_test))
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "to_categorical",
    "normalize",
    "standardize",
    "StandardScaler",
    "train_val_test_split",
    "check_finite",
]


def _float_array(x: Any, name: str = "x") -> np.ndarray:
    """``x`` as a float array: float dtypes are kept, anything else becomes float32."""
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{name} must hold numbers, received an array of dtype {arr.dtype}")
    return arr.astype(np.float32)


# ----------------------------------------------------------------------------
# finite checks


def check_finite(x: Any, name: str = "x") -> np.ndarray:
    """Return ``x`` as an array, or raise ``ValueError`` if it holds NaN or inf.

    The message names the array, the first bad index and how many values are
    bad, e.g. ``x contains NaN at index (3, 1) (2 NaN and 0 infinite values
    in total, shape (100, 2))``. Integer and boolean arrays are always finite.
    """
    arr = np.asarray(x)
    if arr.dtype.kind in "biu":
        return arr
    if arr.dtype.kind not in "fc":
        raise TypeError(f"{name} must hold numbers, received an array of dtype {arr.dtype}")
    finite = np.isfinite(arr)
    if finite.all():
        return arr
    bad = np.argwhere(~finite)[0]
    index = tuple(int(i) for i in bad)
    value = arr[index]
    kind = "NaN" if np.isnan(value) else ("inf" if np.real(value) > 0 else "-inf")
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(np.isinf(arr).sum())
    shown = index[0] if len(index) == 1 else index
    raise ValueError(
        f"{name} contains {kind} at index {shown} ({n_nan} NaN and {n_inf} infinite values "
        f"in total, shape {arr.shape}); remove or impute them before training"
    )


# ----------------------------------------------------------------------------
# labels


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray:
    """One-hot encode integer class labels: ``out[..., k] = 1`` where ``y == k``.

    ``y`` of shape ``(n,)`` (or ``(n, 1)``, as Keras) gives ``(n, num_classes)``;
    in general the output shape is ``y.shape + (num_classes,)`` after dropping
    a trailing axis of size 1. ``num_classes`` defaults to ``max(y) + 1``.
    Labels must be integers in ``[0, num_classes)``.

    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    arr = np.asarray(y)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            check_finite(arr, "to_categorical labels")
        if not np.all(arr == np.round(arr)):
            bad = arr[arr != np.round(arr)].ravel()[0]
            raise ValueError(
                f"to_categorical expects integer class labels, received the non-integer value "
                f"{bad} (labels of dtype {arr.dtype})"
            )
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(
            f"to_categorical expects integer class labels, received an array of dtype {arr.dtype}"
        )
    shape = arr.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = arr.reshape(-1).astype(np.int64)
    if flat.size and flat.min() < 0:
        raise ValueError(
            f"to_categorical expects labels >= 0, received the label {int(flat.min())}"
        )
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical received no labels; pass num_classes explicitly")
        num_classes = int(flat.max()) + 1
    elif (
        not isinstance(num_classes, numbers.Integral)
        or isinstance(num_classes, bool)
        or num_classes < 1
    ):
        raise ValueError(f"num_classes must be a positive integer, received {num_classes!r}")
    num_classes = int(num_classes)
    if flat.size and flat.max() >= num_classes:
        raise ValueError(
            f"to_categorical received the label {int(flat.max())}, but num_classes={num_classes} "
            f"allows labels 0..{num_classes - 1}"
        )
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (num_classes,))


# ----------------------------------------------------------------------------
# scaling


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale each vector along ``axis`` to unit norm: ``x / ||x||_order`` (Keras' ``normalize``).

    Zero vectors stay zero. The shape is kept; float dtypes are kept and other
    inputs become float32. This is *not* the mean/std standardisation of the
    course: for that use ``standardize`` or ``StandardScaler``.
    """
    arr = _float_array(x)
    # divide by the largest magnitude first, so tiny or huge vectors do not under/overflow
    peak = np.max(np.abs(arr), axis=axis, keepdims=True) if arr.size else np.ones(1)
    peak = np.where(peak == 0, 1, peak)
    scaled = arr / peak  # largest magnitude 1: its norm lies in [1, n] and is exact enough
    norm = np.linalg.norm(scaled, order, axis, keepdims=True)
    norm = np.where(norm == 0, 1, norm)
    # never multiply the norm back by the peak: for subnormal inputs that product rounds
    return (scaled / norm).astype(arr.dtype, copy=False)


def _safe_std(std: Any, mean: Any = 0.0) -> np.ndarray:
    """A feature with zero spread is left unscaled (divided by 1), as scikit-learn does.

    A constant column's computed std is rarely exactly 0 (the mean is rounded), so
    a std within rounding error of the mean's magnitude also counts as zero.
    """
    std = np.array(std, dtype=np.float64, copy=True)
    eps = np.finfo(np.float64).eps
    constant = ~(std > np.maximum(1e3 * eps * np.abs(np.asarray(mean, dtype=np.float64)), 1e-300))
    std[constant] = 1.0
    return std


def standardize(x: Any, mean: Any = None, std: Any = None) -> np.ndarray:
    """``(x - mean) / std`` per feature (column); mean and std default to ``x``'s own.

    Features with zero standard deviation are only centred. Shapes: ``x`` is
    ``(n, features)`` (or ``(n,)``); ``mean`` and ``std`` broadcast to ``x.shape[1:]``.
    For new data use the training data's statistics, which ``StandardScaler`` keeps.
    """
    arr = _float_array(x)
    check_finite(arr, "x")
    if mean is None:
        mean = arr.mean(axis=0, dtype=np.float64) if arr.size else 0.0
    if std is None:
        std = arr.std(axis=0, dtype=np.float64) if arr.size else 1.0
    std = _safe_std(std, mean)
    return ((arr - np.asarray(mean)) / std).astype(arr.dtype, copy=False)


class StandardScaler:
    """Standardise features with the training data's statistics: ``z = (x - mean_) / std_``.

    ``fit(x)`` stores the per-feature ``mean_`` and ``std_`` (population std, ddof
    0, as scikit-learn; a zero std is stored as 1 so constant features are only
    centred); ``transform`` applies them to any data with the same features,
    ``inverse_transform`` undoes it: ``x = z * std_ + mean_``. ``x`` has shape
    ``(n, features)`` or ``(n,)``. Float dtypes are kept; integers become float32.
    ``get_config()``/``from_config()`` store the statistics as JSON-able lists.

    Example::

        scaler = StandardScaler().fit(x_train)
        x_test_scaled = scaler.transform(x_test)
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.n_samples_seen_ = 0

    @property
    def scale_(self) -> np.ndarray | None:
        """scikit-learn's name for ``std_``."""
        return self.std_

    @property
    def fitted(self) -> bool:
        return self.mean_ is not None

    def fit(self, x: Any, y: Any = None) -> StandardScaler:
        """Compute ``mean_`` and ``std_`` over the samples (axis 0); returns ``self``."""
        arr = _float_array(x)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(
                f"StandardScaler.fit needs at least one sample, received shape {arr.shape}"
            )
        check_finite(arr, "x")
        features = arr.shape[1:]
        self.mean_ = arr.mean(axis=0, dtype=np.float64) if self.with_mean else np.zeros(features)
        self.std_ = (
            _safe_std(arr.std(axis=0, dtype=np.float64), arr.mean(axis=0, dtype=np.float64))
            if self.with_std
            else np.ones(features)
        )
        self.n_samples_seen_ = int(arr.shape[0])
        return self

    def _check(self, x: Any, method: str) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError(
                f"This StandardScaler is not fitted yet: call fit(x_train) before {method}"
            )
        arr = _float_array(x)
        assert self.mean_ is not None
        if arr.shape[1:] != self.mean_.shape:
            expected = (None, *self.mean_.shape)
            raise ValueError(
                f"StandardScaler was fitted on samples of shape {expected}, received data of "
                f"shape {arr.shape} in {method}"
            )
        check_finite(arr, "x")
        return arr

    def transform(self, x: Any) -> np.ndarray:
        """``(x - mean_) / std_``, with the statistics from ``fit``."""
        arr = self._check(x, "transform")
        return ((arr - self.mean_) / self.std_).astype(arr.dtype, copy=False)

    def fit_transform(self, x: Any, y: Any = None) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def inverse_transform(self, z: Any) -> np.ndarray:
        """``z * std_ + mean_``: back to the original units."""
        arr = self._check(z, "inverse_transform")
        return (arr * self.std_ + self.mean_).astype(arr.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        """JSON-able settings and, once fitted, the statistics."""
        return {
            "with_mean": self.with_mean,
            "with_std": self.with_std,
            "mean": None if self.mean_ is None else self.mean_.tolist(),
            "std": None if self.std_ is None else self.std_.tolist(),
            "n_samples_seen": self.n_samples_seen_,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StandardScaler:
        scaler = cls(with_mean=config.get("with_mean", True), with_std=config.get("with_std", True))
        if config.get("mean") is not None:
            scaler.mean_ = np.asarray(config["mean"], dtype=np.float64)
            scaler.std_ = np.asarray(config["std"], dtype=np.float64)
            scaler.n_samples_seen_ = int(config.get("n_samples_seen", 0))
        return scaler

    def __repr__(self) -> str:
        state = "fitted" if self.fitted else "not fitted"
        return f"StandardScaler(with_mean={self.with_mean}, with_std={self.with_std}) [{state}]"


# ----------------------------------------------------------------------------
# the 60/20/20 split


def _count(size: Any, n: int, name: str) -> int:
    """A fraction in [0, 1) of ``n`` (rounded half up), or an absolute count."""
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise TypeError(f"{name} must be a fraction in [0, 1) or a count, received {size!r}")
    if isinstance(size, numbers.Integral):
        if not 0 <= size < n:
            raise ValueError(f"{name}={size} must be a count between 0 and {n - 1} (n={n})")
        return int(size)
    if not 0.0 <= size < 1.0 or math.isnan(size):
        raise ValueError(f"{name} must be a fraction in [0, 1), received {size}")
    return int(math.floor(size * n + 0.5))


def _allocate(ideal: np.ndarray, total: int, capacity: np.ndarray) -> np.ndarray:
    """Integers near ``ideal`` summing to ``total``, each at most ``capacity``.

    Floors first, then hands out the rest by largest remainder (as in
    apportionment), so each class gets its fair share to within one sample.
    """
    counts = np.minimum(np.floor(ideal).astype(np.int64), capacity)
    order = np.argsort(-(ideal - counts), kind="stable")
    while counts.sum() < total:
        progressed = False
        for k in order:
            if counts.sum() >= total:
                break
            if counts[k] < capacity[k]:
                counts[k] += 1
                progressed = True
        if not progressed:  # cannot happen while total <= capacity.sum()
            raise ValueError("cannot allocate the requested split sizes")
    return counts


def _labels_for_stratify(y: np.ndarray) -> np.ndarray:
    labels = y
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)  # one-hot targets
    labels = labels.reshape(len(y), -1)
    if labels.shape[1] != 1:
        raise ValueError(
            f"stratify needs one class label per sample, received targets of shape {y.shape}"
        )
    labels = labels[:, 0]
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError(
            "stratify needs class labels, received non-integer targets "
            f"(e.g. {labels[labels != np.round(labels)][0]}); stratify only classification data"
        )
    return labels


def train_val_test_split(
    x: Any,
    y: Any = None,
    val_size: float | int = 0.2,
    test_size: float | int = 0.2,
    shuffle: bool = True,
    stratify: Any = False,
    seed: int | np.random.Generator | None = None,
) -> tuple:
    """Split data into training, validation and test sets (60/20/20 by default).

    Returns ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``, three
    pairs in the order they are used; with ``y=None``, ``x_train, x_val, x_test``.
    ``val_size`` and ``test_size`` are fractions in ``[0, 1)`` (rounded to whole
    samples) or counts; the training set gets the rest and must not be empty.
    ``shuffle=False`` keeps the order: training first, test last.
    ``stratify=True`` keeps the class proportions of ``y`` in each set (within
    one sample per class); it may also be an array of labels to stratify by.
    One-hot ``y`` is stratified by its argmax. ``seed`` makes the split
    reproducible (``None``: fresh randomness).

    Example::

        (x_train, y_train), (x_val, y_val), (x_test, y_test) = train_val_test_split(x, y, seed=0)
    """
    x_arr = np.asarray(x)
    if x_arr.ndim == 0:
        raise ValueError(f"x must be an array of samples, received a scalar {x!r}")
    n = len(x_arr)
    y_arr = None if y is None else np.asarray(y)
    if y_arr is not None and (y_arr.ndim == 0 or len(y_arr) != n):
        shape = y_arr.shape
        raise ValueError(
            f"x and y must have the same number of samples, received x with {n} "
            f"(shape {x_arr.shape}) and y with shape {shape}"
        )
    if n < 1:
        raise ValueError("train_val_test_split received no samples")
    n_val = _count(val_size, n, "val_size")
    n_test = _count(test_size, n, "test_size")
    if n_val + n_test >= n:
        raise ValueError(
            f"val_size={val_size} and test_size={test_size} leave no training samples out of "
            f"{n} ({n_val} validation + {n_test} test); their sum must be below 1"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    if stratify is False or stratify is None:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train_idx = order[: n - n_val - n_test]
        val_idx = order[n - n_val - n_test : n - n_test]
        test_idx = order[n - n_test :]
    else:
        if stratify is True:
            if y_arr is None:
                raise ValueError("stratify=True needs y (or pass the labels as stratify=...)")
            labels = _labels_for_stratify(y_arr)
        else:
            labels = _labels_for_stratify(np.asarray(stratify))
            if len(labels) != n:
                raise ValueError(
                    f"stratify must have one label per sample ({n}), received {len(labels)}"
                )
        classes, inverse = np.unique(labels, return_inverse=True)
        members = [np.flatnonzero(inverse == k) for k in range(len(classes))]
        if shuffle:
            members = [rng.permutation(m) for m in members]
        sizes = np.array([len(m) for m in members])
        n_test_k = _allocate(sizes * n_test / n, n_test, sizes)
        n_val_k = _allocate(sizes * n_val / n, n_val, sizes - n_test_k)
        train_parts, val_parts, test_parts = [], [], []
        for m, t, v in zip(members, n_test_k, n_val_k, strict=True):
            train_parts.append(m[: len(m) - v - t])
            val_parts.append(m[len(m) - v - t : len(m) - t])
            test_parts.append(m[len(m) - t :])
        parts = [np.concatenate(p).astype(np.int64) for p in (train_parts, val_parts, test_parts)]
        # mix the classes again, so fit's batches and validation_split see all of them
        parts = [rng.permutation(p) if shuffle else np.sort(p) for p in parts]
        train_idx, val_idx, test_idx = parts

    if y_arr is None:
        return x_arr[train_idx], x_arr[val_idx], x_arr[test_idx]
    return (
        (x_arr[train_idx], y_arr[train_idx]),
        (x_arr[val_idx], y_arr[val_idx]),
        (x_arr[test_idx], y_arr[test_idx]),
    )
