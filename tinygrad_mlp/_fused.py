"""Optional fused loops for the optimizers' rules, compiled by numba when it is installed.

NumPy spells Adam's step as 12 passes over the parameters (``m += (g - m)(1 - b1)`` is
three: a subtraction, a product, a sum), each rounding to the parameters' dtype. The
loop here does the same operations on each element in the same order, with the
constants in the same dtype, so it gives the same bits (``tests/test_optimizers.py``
checks it against the NumPy passes), in one pass instead of twelve. numba compiles it
without ``fastmath``, so nothing is reassociated or contracted into a fused
multiply-add. Without numba (``pip install tinygrad_mlp[fast]`` adds it) ``adam``
is None and the optimizers use their NumPy passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["adam", "MIN_ELEMENTS"]

MIN_ELEMENTS = 4096  # below this the NumPy passes are as fast as the call into numba


def _adam_loop(w, g, m, v, one_minus_b1, one_minus_b2, eps, alpha):  # pragma: no cover
    # numba compiles this; each line is one of Adam._update's NumPy passes
    for i in range(w.shape[0]):
        gi = g[i]
        d = (gi - m[i]) * one_minus_b1
        mi = m[i] + d
        m[i] = mi
        s = (gi * gi - v[i]) * one_minus_b2
        vi = v[i] + s
        v[i] = vi
        step = mi / (np.sqrt(vi) + eps) * alpha
        w[i] = w[i] - step


def _compile() -> Any:
    try:
        import numba
    except ImportError:
        return None
    return numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(_adam_loop)


_COMPILED: list[Any] = []


def adam(
    w: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, b1: float, b2: float,
    eps: float, alpha: float,
) -> bool:  # fmt: skip
    """Adam's step on flat, contiguous arrays of one float dtype, in place; False (nothing
    done) when numba is missing or the arrays do not qualify."""
    if not _COMPILED:
        _COMPILED.append(_compile())
    loop = _COMPILED[0]
    if loop is None or w.size < MIN_ELEMENTS:
        return False
    dtype = w.dtype
    if (
        dtype.kind != "f"
        or not all(
            a.dtype == dtype and a.flags.c_contiguous and a.shape == w.shape for a in (g, m, v)
        )
        or not w.flags.c_contiguous
    ):
        return False
    # the constants in the arrays' dtype, as NumPy casts a Python float against an array
    t = dtype.type
    loop(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
         t(1.0 - b1), t(1.0 - b2), t(eps), t(alpha))  # fmt: skip
    return True
