"""Keras' ``backend`` functions an MLP program calls: sessions, seeds and constants."""

from __future__ import annotations

import random

import numpy as np

__all__ = ["clear_session", "epsilon", "floatx", "set_random_seed"]

_EPSILON = 1e-7


def clear_session() -> None:
    """Forget the automatic layer and model names, as Keras' ``clear_session`` does, so the
    next model's layers are ``dense``, ``dense_1``, ... again."""
    from tinygrad_mlp import layers

    layers.clear_session()


def epsilon() -> float:
    """The fuzz factor Keras adds to avoid division by zero: 1e-7."""
    return _EPSILON


def floatx() -> str:
    """The default float type of weights: ``'float32'``, as in Keras."""
    return "float32"


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random`` and NumPy's global generator: initial weights (unseeded
    initializers), dropout and noise masks (unseeded layers) and ``fit``'s shuffling then
    repeat from run to run (``keras.utils.set_random_seed``)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative integer, received {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
