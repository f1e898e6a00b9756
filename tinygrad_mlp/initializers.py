"""Weight initializers: the starting values of kernels and biases, as Keras draws them.

An initializer is called as ``init(shape, dtype='float32') -> np.ndarray``.
The variance-scaling family (Glorot, He, LeCun) sets the spread from the
layer's fan-in and fan-out so activations keep their scale through layers:

* ``glorot_uniform``: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))
  (Dense's default kernel initializer);
* ``he_normal``: truncated normal, std = sqrt(2 / fan_in) / 0.8796
  (0.8796 is the std of a unit normal truncated at 2 std, so the *result*
  has the target std);
* ``zeros``: Dense's default bias initializer.

``seed`` makes results reproducible: two initializers built with the same seed
give the same sequence of arrays (successive calls of one initializer differ,
as in Keras 3). Without a seed the draw comes from NumPy's global state, so
``np.random.seed(0)`` makes a whole model reproducible.

>>> GlorotUniform(seed=0)((2, 3)).shape
(2, 3)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp._registry import Configurable, Registry

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
    "Identity",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
]

Shape = tuple[int, ...]

# std of a standard normal truncated to [-2, 2]: dividing by it gives the
# truncated draw the requested std (Keras' constant).
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras: a kernel (in, out) gives (in, out); conv kernels
    multiply by the receptive field; a vector of length n gives (n, n); a scalar (1, 1)."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _check_shape(shape: Any) -> Shape:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise TypeError(f"an initializer expects a shape tuple, received {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"an initializer expects non-negative dimensions, received {shape}")
    return shape


def _check_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype if dtype is not None else "float32")
    if dt.kind != "f":
        raise ValueError(f"initializers make floating-point arrays, received dtype {dt}")
    return dt


class Initializer(Configurable, ABC):
    """Base class: subclasses implement ``__call__(shape, dtype)`` and ``get_config``."""

    @abstractmethod
    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        """An array of ``shape`` and ``dtype`` drawn from this initializer's distribution."""


class _RandomInitializer(Initializer):
    """Keeps one NumPy generator per instance, seeded by ``seed`` (or by NumPy's global state)."""

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer or None, received {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else np.random.default_rng(self.seed)

    def _generator(self) -> np.random.Generator:
        if self._rng is not None:
            return self._rng
        # unseeded: follow np.random.seed() so whole models are reproducible
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))

    def get_config(self) -> dict:
        return {"seed": self.seed}


def _truncated_normal(rng: np.random.Generator, shape: Shape, mean: float, std: float) -> Any:
    """N(mean, std^2) with draws further than 2 std from the mean redrawn."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * std + mean


class Zeros(Initializer):
    """All zeros (Dense's default bias)."""

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        return np.zeros(_check_shape(shape), dtype=_check_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        return np.ones(_check_shape(shape), dtype=_check_dtype(dtype))


class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        return np.full(_check_shape(shape), self.value, dtype=_check_dtype(dtype))

    def get_config(self) -> dict:
        return {"value": self.value}


class RandomNormal(_RandomInitializer):
    """N(mean, stddev^2) entries."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        shape, dt = _check_shape(shape), _check_dtype(dtype)
        return self._generator().normal(self.mean, self.stddev, shape).astype(dt)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_RandomInitializer):
    """U(minval, maxval) entries."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)
        if self.minval > self.maxval:
            raise ValueError(
                f"RandomUniform expects minval <= maxval, received minval={minval}, maxval={maxval}"
            )

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        shape, dt = _check_shape(shape), _check_dtype(dtype)
        return self._generator().uniform(self.minval, self.maxval, shape).astype(dt)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(_RandomInitializer):
    """N(mean, stddev^2) with values more than 2 stddev from the mean redrawn."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        shape, dt = _check_shape(shape), _check_dtype(dtype)
        return _truncated_normal(self._generator(), shape, self.mean, self.stddev).astype(dt)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(_RandomInitializer):
    """Entries with variance ``scale / n``, n = fan_in, fan_out or their mean (``mode``).

    ``uniform``: U(-limit, limit), limit = sqrt(3 scale / n);
    ``truncated_normal``: std = sqrt(scale / n) / 0.8796 truncated at 2 std;
    ``untruncated_normal``: std = sqrt(scale / n).
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling expects scale > 0, received scale={scale}")
        mode = mode.lower()
        if mode not in _MODES:
            raise ValueError(
                f"VarianceScaling received mode={mode!r}; valid modes are {', '.join(_MODES)}"
            )
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling received distribution={distribution!r}; valid distributions "
                f"are {', '.join(_DISTRIBUTIONS)}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        shape, dt = _check_shape(shape), _check_dtype(dtype)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._generator()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            out = rng.uniform(-limit, limit, shape)
        elif self.distribution == "truncated_normal":
            out = _truncated_normal(rng, shape, 0.0, math.sqrt(variance) / _TRUNCATED_STD)
        else:
            out = rng.normal(0.0, math.sqrt(variance), shape)
        return out.astype(dt)

    def get_config(self) -> dict:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class _NamedVarianceScaling(VarianceScaling):
    """A ``VarianceScaling`` with its scale, mode and distribution fixed by the
    class (``_preset``): ``seed`` is its only argument and its whole config."""

    _preset: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None) -> None:
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotUniform(_NamedVarianceScaling):
    """Xavier uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_NamedVarianceScaling):
    """Xavier normal: truncated normal, std = sqrt(2 / (fan_in + fan_out)) / 0.8796."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_NamedVarianceScaling):
    """He uniform: U(-limit, limit), limit = sqrt(6 / fan_in)."""

    _preset = (2.0, "fan_in", "uniform")


class HeNormal(_NamedVarianceScaling):
    """He normal: truncated normal, std = sqrt(2 / fan_in) / 0.8796."""

    _preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_NamedVarianceScaling):
    """LeCun uniform: U(-limit, limit), limit = sqrt(3 / fan_in)."""

    _preset = (1.0, "fan_in", "uniform")


class LecunNormal(_NamedVarianceScaling):
    """LeCun normal: truncated normal, std = sqrt(1 / fan_in) / 0.8796."""

    _preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(_RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``: Q from the QR decomposition of a normal
    draw, sign-corrected so it is uniformly distributed (Saxe et al., 2014).

    Shapes of more than two dimensions are flattened to (prod(shape[:-1]), shape[-1]).
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        shape, dt = _check_shape(shape), _check_dtype(dtype)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal needs a shape of at least two dimensions, received {shape}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dt)

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes; rectangular ones get a unit diagonal)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def __call__(self, shape: Shape, dtype: Any = "float32") -> np.ndarray:
        shape, dt = _check_shape(shape), _check_dtype(dtype)
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, received {shape}")
        return (self.gain * np.eye(*shape)).astype(dt)

    def get_config(self) -> dict:
        return {"gain": self.gain}


# -- lookup --------------------------------------------------------------------

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Zeros,
        Ones,
        Constant,
        RandomNormal,
        RandomUniform,
        TruncatedNormal,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
        Identity,
    )
}
_SNAKE: dict[str, str] = {
    "zeros": "Zeros",
    "ones": "Ones",
    "constant": "Constant",
    "random_normal": "RandomNormal",
    "random_uniform": "RandomUniform",
    "uniform": "RandomUniform",  # Keras' alias (Embedding's default)
    "normal": "RandomNormal",
    "truncated_normal": "TruncatedNormal",
    "variance_scaling": "VarianceScaling",
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "xavier_uniform": "GlorotUniform",
    "xavier_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal",
    "orthogonal": "Orthogonal",
    "identity": "Identity",
}


_REGISTRY = Registry(
    "initializer",
    Initializer,
    _CLASSES,
    {name: _CLASSES[cls_name] for name, cls_name in _SNAKE.items()},
    expected="a name such as 'glorot_uniform', an Initializer, a config dict or a callable",
    accepts_none=True,
    callables=True,
    not_serializable="Cannot serialize {obj!r}: only Initializer instances have a config "
    "(wrap a custom function in an Initializer subclass with get_config)",
)


def get(identifier: str | dict | Initializer | Callable | None) -> Callable:
    """An initializer from a Keras name (``'glorot_uniform'``, ``'HeNormal'``), a
    ``{'class_name', 'config'}`` dict, an ``Initializer`` or class, or a callable."""
    return _REGISTRY.get(identifier)


def serialize(initializer: Initializer) -> dict:
    """``{'class_name': 'GlorotUniform', 'config': {'seed': None}}``: JSON-able."""
    if not isinstance(initializer, Initializer):
        # unlike constraints, a function (or None) has no saved form here
        raise ValueError(_REGISTRY.not_serializable.format(obj=initializer))
    return _REGISTRY.serialize(initializer)


def deserialize(config: dict | str) -> Initializer:
    """Inverse of ``serialize``."""
    if config is None:
        # get(None) is None, but None is not a config
        raise ValueError(
            f"deserialize expects {{'class_name': ..., 'config': {{...}}}}, received {config!r}"
        )
    return _REGISTRY.deserialize(config)
