"""Weight and activity regularizers: penalties added to the training loss (Keras' ``regularizers``).

A regularizer is called on a weight ``Value`` (any shape) and returns a 0-d
``Value`` penalty, differentiable through the engine:

* ``L1(l1=0.01)``: ``l1 * sum |w|`` (pushes weights to exactly zero);
* ``L2(l2=0.01)``: ``l2 * sum w^2`` (weight decay; no 1/2, as Keras, so the
  gradient is ``2 * l2 * w``);
* ``L1L2(l1=0.0, l2=0.0)``: both.

Give one to a layer (``Dense(4, kernel_regularizer=L2(1e-4))`` or
``kernel_regularizer='l2'``) and ``fit`` adds its penalty to the loss it
differentiates; ``layer.losses`` lists the current penalties. As in Keras the
names ``'l1'``, ``'l2'`` and ``'l1_l2'`` use factor 0.01 (``'l1_l2'`` sets both),
and ``l1``, ``l2``, ``l1_l2`` are aliases of the classes.

>>> import numpy as np
>>> from tinygrad_mlp.engine import Value
>>> float(L2(0.5)(Value(np.array([1.0, -2.0]))).data)    # 0.5 * (1 + 4)
2.5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp._registry import ConfigEquality, Registry
from tinygrad_mlp.engine import Value, _const

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "l1",
    "l2",
    "l1_l2",
    "get",
    "serialize",
    "deserialize",
]


def _check_factor(value: Any, name: str) -> float:
    """A finite, non-negative float (Keras' check); ``None`` is not accepted here."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float, "
            f"received {name}={value!r}"
        )
    return float(value)


def _as_value(x: Any) -> Value:
    return x if type(x) is Value else _const(np.asarray(x))


def _total(x: Value) -> Value:
    """The sum of every element (a scalar Value is its own sum)."""
    return x if x.is_scalar else x.sum()


class Regularizer(ConfigEquality):
    """Base class: ``regularizer(weight) -> 0-d Value`` penalty (0.0 in the base class).

    Subclasses implement ``__call__`` with engine ops and ``get_config``; any
    plain function ``Value -> Value`` also works wherever a regularizer is accepted.
    """

    def __call__(self, x: Value) -> Value:
        return _const(0.0)


class L1L2(Regularizer):
    """``l1 * sum |w| + l2 * sum w^2``, summed over every element of ``w`` (any shape).

    Gradient: ``l1 * sign(w) + 2 * l2 * w``. A factor of 0 adds no term to the graph.

    >>> L1L2(l1=0.1, l2=0.1)
    L1L2(l1=0.1, l2=0.1)
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _check_factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _check_factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x: Value) -> Value:
        x = _as_value(x)
        penalty = None
        if self.l1:
            penalty = _total(x.abs()) * self.l1
        if self.l2:
            term = _total(x * x) * self.l2
            penalty = term if penalty is None else penalty + term
        if penalty is None:  # both factors 0: a zero penalty, still a (zero-gradient) function of x
            return _total(x) * 0.0
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum |w|`` (lasso); gradient ``l1 * sign(w)`` (0 at 0)."""

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = _check_factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x: Value) -> Value:
        return _total(_as_value(x).abs()) * self.l1

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum w^2`` (ridge, weight decay); gradient ``2 * l2 * w``."""

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _check_factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x: Value) -> Value:
        x = _as_value(x)
        return _total(x * x) * self.l2

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


# Keras' lower-case aliases are the classes themselves: l2(1e-4) is L2(1e-4).
l1 = L1
l2 = L2
l1_l2 = L1L2

_CLASSES: dict[str, type[Regularizer]] = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2)}
# a class name gives the class's defaults ('L1L2' is zero), a short name Keras' 0.01:
# 'l1_l2' means both factors 0.01, as Keras documents
_REGISTRY = Registry(
    "regularizer",
    Regularizer,
    _CLASSES,
    {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(l1=0.01, l2=0.01)},
    expected="None, a name (one of {names}), a Regularizer, a config dict or a callable",
    accepts_none=True,
    callables=True,
    names_as_list=True,
)


def get(identifier: Any) -> Callable[[Value], Value] | None:
    """A regularizer from ``None`` (none), a name (``'l2'``), a ``serialize`` dict,
    a ``Regularizer`` instance or class, or a callable ``Value -> Value``."""
    return _REGISTRY.get(identifier)


def serialize(regularizer: Any) -> dict[str, Any] | str | None:
    """``{'class_name': 'L2', 'config': {'l2': 0.01}}`` (JSON-able); ``None`` stays ``None``.

    A plain function is saved by its ``__name__``: loading it again needs a
    ``Regularizer`` subclass or the same name to be known, as with Keras' custom objects.
    """
    return _REGISTRY.serialize(regularizer)


def deserialize(
    config: dict[str, Any] | str | None, custom_objects: dict[str, Any] | None = None
) -> Any:
    """Inverse of ``serialize``; unknown class names list the valid ones."""
    return _REGISTRY.deserialize(config, custom_objects)
