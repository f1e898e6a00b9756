"""Weight constraints: projections applied to a weight after every optimizer step, as Keras'.

A constraint is called on a weight's NumPy array and returns the projected
array of the same shape (``fit`` writes it back in place):

* ``MaxNorm(max_value=2, axis=0)``: rescale every column (the weights into one
  unit of a ``Dense`` kernel ``(input_dim, units)``) whose L2 norm exceeds ``max_value``;
* ``NonNeg()``: ``max(w, 0)``;
* ``UnitNorm(axis=0)``: ``w / ||w||``;
* ``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)``: move each norm
  to ``rate * clip(norm, min, max) + (1 - rate) * norm``.

Norms are taken over ``axis`` (an int or a list of ints) with ``keepdims``; as
Keras, a small ``epsilon = 1e-7`` is added to the norm before dividing.

>>> import numpy as np
>>> MaxNorm(1.0)(np.array([[3.0, 0.3], [4.0, 0.4]])).round(3)    # column norms 5 and 0.5
array([[0.6, 0.3],
       [0.8, 0.4]])
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp._registry import ConfigEquality, Registry

__all__ = [
    "Constraint",
    "MaxNorm",
    "NonNeg",
    "UnitNorm",
    "MinMaxNorm",
    "max_norm",
    "non_neg",
    "unit_norm",
    "min_max_norm",
    "get",
    "serialize",
    "deserialize",
]

EPSILON = 1e-7  # Keras' backend.epsilon()


def _check_axis(axis: Any) -> int | list[int]:
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, Sequence) and not isinstance(axis, str) and axis:
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            return [int(a) for a in axis]
    raise TypeError(f"axis must be an int or a list of ints, received {axis!r}")


def _check_number(value: Any, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or value < 0
    ):
        raise ValueError(f"{name} must be a non-negative number, received {name}={value!r}")
    return value


def _norms(w: np.ndarray, axis: int | list[int]) -> np.ndarray:
    """The L2 norm over ``axis`` with kept dimensions, so it broadcasts against ``w``."""
    axes = tuple(axis) if isinstance(axis, list) else axis
    try:
        return np.sqrt(np.sum(w * w, axis=axes, keepdims=True))
    except np.exceptions.AxisError:
        raise ValueError(
            f"constraint axis {axis!r} is out of range for a weight of shape {w.shape}"
        ) from None


def _as_array(w: Any) -> np.ndarray:
    arr = np.asarray(w)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


class Constraint(ConfigEquality):
    """Base class: ``constraint(w: ndarray) -> ndarray`` (the identity in the base class)."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return w


class MaxNorm(Constraint):
    """``w * clip(||w||, 0, max_value) / (epsilon + ||w||)``, norms over ``axis``.

    For a ``Dense`` kernel ``(input_dim, units)`` the default ``axis=0`` bounds
    the norm of the incoming weight vector of every unit (Srivastava et al.'s
    max-norm, used with dropout).
    """

    def __init__(self, max_value: float = 2, axis: int | list[int] = 0) -> None:
        self.max_value = _check_number(max_value, "max_value")
        self.axis = _check_axis(axis)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """``max(w, 0)``: every weight non-negative."""

    def __call__(self, w: np.ndarray) -> np.ndarray:
        w = _as_array(w)
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """``w / (epsilon + ||w||)``, norms over ``axis``: unit-length weight vectors."""

    def __init__(self, axis: int | list[int] = 0) -> None:
        self.axis = _check_axis(axis)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        w = _as_array(w)
        return (w / (EPSILON + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms over ``axis`` moved to ``rate * clip(n, min_value, max_value) + (1 - rate) * n``.

    ``rate=1.0`` enforces the bounds strictly; a smaller rate moves the norms
    towards the interval a step at a time.
    """

    def __init__(
        self,
        min_value: float = 0.0,
        max_value: float = 1.0,
        rate: float = 1.0,
        axis: int | list[int] = 0,
    ) -> None:
        self.min_value = _check_number(min_value, "min_value")
        self.max_value = _check_number(max_value, "max_value")
        if self.min_value > self.max_value:
            raise ValueError(
                f"MinMaxNorm needs min_value <= max_value, received min_value={min_value!r}, "
                f"max_value={max_value!r}"
            )
        self.rate = _check_number(rate, "rate")
        self.axis = _check_axis(axis)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        w = _as_array(w)
        norms = _norms(w, self.axis)
        desired = (
            self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return (w * (desired / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras' lower-case aliases are the classes themselves.
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_CLASSES: dict[str, type[Constraint]] = {
    cls.__name__: cls for cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
}


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


_REGISTRY = Registry(
    "constraint",
    Constraint,
    _CLASSES,
    {_snake(name): cls for name, cls in _CLASSES.items() if cls is not Constraint},
    expected="None, a name (one of {names}), a Constraint, a config dict or a callable",
    accepts_none=True,
    callables=True,
    names_as_list=True,
)


def get(identifier: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A constraint from ``None`` (none), a name (``'max_norm'``, ``'NonNeg'``), a
    ``serialize`` dict, a ``Constraint`` instance or class, or a callable ``ndarray -> ndarray``."""
    return _REGISTRY.get(identifier)


def serialize(constraint: Any) -> dict[str, Any] | str | None:
    """``{'class_name': 'MaxNorm', 'config': {'max_value': 2, 'axis': 0}}``; ``None`` stays.

    A plain function is saved by its ``__name__`` (it loads again only if that
    name is given in ``custom_objects``).
    """
    return _REGISTRY.serialize(constraint)


def deserialize(
    config: dict[str, Any] | str | None, custom_objects: dict[str, Any] | None = None
) -> Any:
    """Inverse of ``serialize``; unknown class names list the valid ones."""
    return _REGISTRY.deserialize(config, custom_objects)
