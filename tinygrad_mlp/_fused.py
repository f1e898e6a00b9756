"""Optional fused loops for the training step's elementwise work, compiled by numba.

NumPy spells Adam's step as 12 passes over the parameters (``m += (g - m)(1 - b1)`` is
three: a subtraction, a product, a sum), each rounding to the parameters' dtype; a
Dense layer's bias and ReLU are four passes forward and two backward; a sparse
cross-entropy over 10 classes is a dozen calls, its row reductions each an inner loop
of 10 entries per sample. Each loop here does the same operations on each element in
the same order, with the constants in the same dtype, so it gives the same bits as the
NumPy passes (``tests/test_fused.py`` compares them, and ``tests/test_replay.py``
compares the replayed fit that uses them with the eager one), in one pass. Where
NumPy's order is its own (the pairwise sum along a row, the +0.0 a reduction starts
from) the loop follows it, and where a compiled function would round differently
(``exp``, ``log``) NumPy's runs between the loops. numba compiles without
``fastmath``, so nothing is reassociated or contracted into a fused multiply-add, and
with NumPy's error model (a division by zero gives inf, as in NumPy), so the loops
vectorize.

Without numba (``pip install tinygrad_mlp[fast]`` adds it) every function here
returns False (or None) and the callers take their NumPy passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "MIN_ELEMENTS",
    "adam",
    "sgd",
    "sparse_softmax_ce",
    "sparse_softmax_ce_into",
    "sparse_softmax_ce_grad",
    "layer_loops",
    "sparse_ce_loops",
    "take_rows",
]

MIN_ELEMENTS = 4096  # below this an optimizer's NumPy passes are as fast as the call


# -- the loops (numba compiles them; each line is one of the NumPy passes it replaces) ----


def _adam_loop(w, g, m, v, one_minus_b1, one_minus_b2, eps, alpha):  # pragma: no cover
    for i in range(w.shape[0]):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * one_minus_b1
        m[i] = mi
        vi = v[i] + (gi * gi - v[i]) * one_minus_b2
        v[i] = vi
        w[i] = w[i] - mi / (np.sqrt(vi) + eps) * alpha


def _sgd_loop(w, g, v, lr, momentum, mode):  # pragma: no cover
    # mode 0: w -= lr g;  1: v = momentum v - lr g, w += v;  2: Nesterov, w += momentum v - lr g
    for i in range(w.shape[0]):
        step = g[i] * lr
        if mode == 0:
            w[i] = w[i] - step
        else:
            vi = v[i] * momentum - step
            v[i] = vi
            if mode == 1:
                w[i] = w[i] + vi
            else:
                w[i] = (w[i] - step) + vi * momentum


def _bias_relu_loop(z, bias, zero):  # pragma: no cover
    # z = relu(z + bias) as the engine's ops._np_relu: +0.0 where z + bias <= 0 (-0.0 too),
    # else z + bias (NaN kept)
    rows, cols = z.shape
    for r in range(rows):
        for c in range(cols):
            zi = z[r, c] + bias[c]
            z[r, c] = zero if zi <= zero else zi


def _relu_bias_grad_loop(g, out, bias_grad, zero):  # pragma: no cover
    # g = where(out <= 0, 0, g): out = relu(z) is +0.0 exactly where z <= 0 and NaN where z
    # is, so this is the engine's where(z <= 0, 0, g); bias_grad = g's column sums, row after
    # row as NumPy's add.reduce(axis=0) adds them to its identity +0.0 (so a column of -0.0
    # sums to +0.0). In place: one array read and written, not a third brought through the
    # caches. Row views and a local sum let the compiler vectorize the inner loop
    rows, cols = g.shape
    total = np.zeros(cols, g.dtype)
    for r in range(rows):
        g_row, out_row = g[r], out[r]
        for c in range(cols):
            x = zero if out_row[c] <= zero else g_row[c]
            g_row[c] = x
            total[c] = total[c] + x
    bias_grad[:] = total


def _bias_add_loop(z, bias):  # pragma: no cover
    # z += bias, row after row (NumPy's broadcast add: one rounding per element)
    rows, cols = z.shape
    for r in range(rows):
        z_row = z[r]
        for c in range(cols):
            z_row[c] = z_row[c] + bias[c]


def _column_sums_loop(g, total):  # pragma: no cover
    # total = g.sum(axis=0) as NumPy's add.reduce(axis=0) adds two or more columns: each row
    # in turn to its identity +0.0
    rows, cols = g.shape
    acc = np.zeros(cols, g.dtype)
    for r in range(rows):
        g_row = g[r]
        for c in range(cols):
            acc[c] = acc[c] + g_row[c]
    total[:] = acc


def _softmax_shift_loop(z, labels, shifted, picked):  # pragma: no cover
    # shifted = z - the row's max, picked = shifted at the row's label. A row with a NaN has
    # its first NaN as max, as np.maximum keeps the first of two NaNs. False, and nothing
    # read, if a label is out of range
    rows, cols = z.shape
    for r in range(rows):
        if labels[r] < 0 or labels[r] >= cols:
            return False
    for r in range(rows):
        z_row, s_row = z[r], shifted[r]
        m = z_row[0]
        for c in range(1, cols):
            x = z_row[c]
            if m != m:
                break
            if x > m or x != x:
                m = x
        for c in range(cols):
            s_row[c] = z_row[c] - m
        picked[r] = s_row[labels[r]]
    return True


def _softmax_normalize_loop(e, total, zero, divide):  # pragma: no cover
    # total = e's row sums as NumPy's add.reduce(axis=-1) gives them for rows of at most 128
    # (PW_BLOCKSIZE): its identity plus the pairwise sum, which for 8 or more entries keeps
    # eight running sums, adds them as a tree, then the rest in order. e /= total if divide
    rows, cols = e.shape
    for r in range(rows):
        row = e[r]
        if cols < 8:
            t = zero
            for c in range(cols):
                t = t + row[c]
        else:
            r0, r1, r2, r3 = row[0], row[1], row[2], row[3]
            r4, r5, r6, r7 = row[4], row[5], row[6], row[7]
            c = 8
            while c < cols - cols % 8:
                r0, r1, r2, r3 = r0 + row[c], r1 + row[c + 1], r2 + row[c + 2], r3 + row[c + 3]
                r4, r5 = r4 + row[c + 4], r5 + row[c + 5]
                r6, r7 = r6 + row[c + 6], r7 + row[c + 7]
                c += 8
            t = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while c < cols:
                t = t + row[c]
                c += 1
        t = zero + t
        total[r] = t
        if divide:
            for c in range(cols):
                row[c] = row[c] / t


def _sparse_ce_grad_loop(probs, labels, scale, one):  # pragma: no cover
    # probs[rows, labels] -= 1, then probs *= scale[:, None]: the two NumPy passes in one.
    # False, and nothing written, if a label is out of range
    rows, cols = probs.shape
    for r in range(rows):
        if labels[r] < 0 or labels[r] >= cols:
            return False
    for r in range(rows):
        row, label, s = probs[r], labels[r], scale[r]
        at_label = row[label] - one
        for c in range(cols):
            row[c] = row[c] * s
        row[label] = at_label * s
    return True


def _take_rows_loop(x, rows, out):  # pragma: no cover
    # out[i] = x[rows[i]], four rows at a time: four streams from memory at once, where
    # np.take copies one row after another (0.75x its time for 256 random rows of 784 floats).
    # False, and nothing read, if a row is out of range
    n, cols = rows.shape[0], x.shape[1]
    for i in range(n):
        if rows[i] < 0 or rows[i] >= x.shape[0]:
            return False
    i = 0
    while i + 4 <= n:
        a, b, c, d = x[rows[i]], x[rows[i + 1]], x[rows[i + 2]], x[rows[i + 3]]
        oa, ob, oc, od = out[i], out[i + 1], out[i + 2], out[i + 3]
        for j in range(cols):
            oa[j] = a[j]
            ob[j] = b[j]
            oc[j] = c[j]
            od[j] = d[j]
        i += 4
    while i < n:
        out[i, :] = x[rows[i], :]
        i += 1
    return True


# -- compiling on first use ------------------------------------------------------------

_COMPILED: dict[Callable, Any] = {}


def _compiled(loop: Callable) -> Any:
    """The numba-compiled loop, or None without numba (decided once per loop)."""
    if loop not in _COMPILED:
        try:
            import numba
        except ImportError:
            _COMPILED[loop] = None
        else:
            _COMPILED[loop] = numba.njit(cache=True, nogil=True, fastmath=False,
                                         error_model="numpy")(loop)  # fmt: skip
    return _COMPILED[loop]


def available() -> bool:
    """Whether the fused loops run here (numba importable)."""
    return _compiled(_adam_loop) is not None


# the dtypes the loops are compiled for: numba has no float16 (its arrays raise at the call)
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_TAKEN = FLOATS + tuple(np.dtype(t) for t in "bBhHiIlLqQ?")


def _same_layout(first: np.ndarray, *others: np.ndarray) -> bool:
    dtype = first.dtype
    return (
        dtype in FLOATS
        and first.flags.c_contiguous
        and all(a.dtype == dtype and a.shape == first.shape and a.flags.c_contiguous
                for a in others)
    )  # fmt: skip


# -- what the optimizers and the replayed step call ------------------------------------


def adam(w, g, m, v, b1: float, b2: float, eps: float, alpha: float) -> bool:
    """Adam's step in place (``Adam._update``'s passes); False when nothing was done."""
    loop = _compiled(_adam_loop)
    if loop is None or w.size < MIN_ELEMENTS or not _same_layout(w, g, m, v):
        return False
    t = w.dtype.type  # the constants in the arrays' dtype, as NumPy casts a Python float
    loop(w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
         t(1.0 - b1), t(1.0 - b2), t(eps), t(alpha))  # fmt: skip
    return True


def sgd(w, g, v, lr: float, momentum: float, nesterov: bool) -> bool:
    """SGD's step in place (``SGD._update``'s passes); ``v`` the momentum slot or None."""
    loop = _compiled(_sgd_loop)
    if loop is None or w.size < MIN_ELEMENTS:
        return False
    arrays = (w, g) if v is None else (w, g, v)
    if not _same_layout(*arrays):
        return False
    t = w.dtype.type
    flat = w.reshape(-1)
    mode = 0 if momentum == 0.0 else 2 if nesterov else 1
    loop(flat, g.reshape(-1), flat if v is None else v.reshape(-1), t(lr), t(momentum), mode)
    return True


_MAX_CLASSES = 128  # NumPy sums a row of more classes by splitting it in halves


def _labels_fit(z: np.ndarray, labels: Any) -> bool:
    """(n, k) float32/float64 logits in C order, 0 < k <= 128, and n int64 labels: what the
    loops take."""
    return (
        type(labels) is np.ndarray
        and z.ndim == 2
        and 0 < z.shape[1] <= _MAX_CLASSES
        and z.dtype in FLOATS
        and z.flags.c_contiguous
        and labels.dtype == np.int64
        and labels.shape == z.shape[:1]
    )


def layer_loops(dtype: np.dtype, activation: str, bias: bool, bias_grad: bool, units: int) -> tuple:
    """A Dense layer's compiled (forward, backward) loops, each None where the NumPy passes
    run, for a caller that fixed its arrays' dtype and C layout once (the replayed step).

    For a ReLU with a bias: forward(z, bias, zero) is ``z = relu(z + bias)`` in place and
    backward(g, out, bias_grad, zero) is ``g = where(out <= 0, 0, g)`` in place with
    ``bias_grad = g.sum(axis=0)``. Otherwise with a bias: forward(z, bias) is ``z += bias`` and
    backward(g, bias_grad) the column sums. One unit or no bias gradient: no backward (NumPy
    sums a single column pairwise, as a contiguous run)."""
    if np.dtype(dtype) not in FLOATS or not bias or _compiled(_bias_relu_loop) is None:
        return None, None
    relu = activation == "relu"
    forward = _bias_relu_loop if relu else _bias_add_loop
    backward = _relu_bias_grad_loop if relu else _column_sums_loop
    return _compiled(forward), _compiled(backward) if bias_grad and units > 1 else None


def sparse_ce_loops(dtype: np.dtype, classes: int) -> tuple | None:
    """The compiled (shift, normalize, gradient) loops of ``sparse_softmax_ce`` and
    ``sparse_softmax_ce_grad`` for logits of this dtype and class count, or None: for a
    caller that checked its arrays once and calls them every step."""
    if np.dtype(dtype) not in FLOATS or not 0 < classes <= _MAX_CLASSES:
        return None
    loops = tuple(
        _compiled(f) for f in (_softmax_shift_loop, _softmax_normalize_loop, _sparse_ce_grad_loop)
    )
    return None if loops[0] is None else loops


def sparse_softmax_ce_into(
    loops: tuple,
    z: np.ndarray,
    labels: np.ndarray,
    e: np.ndarray,
    picked: np.ndarray,
    total: np.ndarray,
    divide: bool,
) -> bool:
    """The per-sample losses into ``total`` and e^(z - max) (softmax(z) when ``divide``)
    into ``e``, with ``sparse_ce_loops``' loops on a caller's arrays (``picked`` scratch);
    False, nothing computed, if a label is out of range."""
    shift, normalize = loops[0], loops[1]
    if not shift(z, labels, e, picked):
        return False
    np.exp(e, out=e)  # NumPy's exp and log between the loops: a compiled one rounds otherwise
    normalize(e, total, z.dtype.type(0.0), divide)
    np.log(total, out=total)
    total -= picked
    return True


def sparse_softmax_ce(z: np.ndarray, labels: Any, probs: bool) -> tuple | None:
    """``losses._sparse_softmax_ce_arrays`` on new arrays: the per-sample losses and
    softmax(z) (when ``probs``), or None when the NumPy passes must run."""
    loops = sparse_ce_loops(z.dtype, z.shape[-1]) if _labels_fit(z, labels) else None
    if loops is None:
        return None
    n = len(z)
    e, picked, total = np.empty_like(z), np.empty(n, z.dtype), np.empty(n, z.dtype)
    if not sparse_softmax_ce_into(loops, z, labels, e, picked, total, probs):
        return None
    return total, e if probs else None


def sparse_softmax_ce_grad(probs: np.ndarray, labels: Any, scale: np.ndarray) -> bool:
    """``probs[rows, labels] -= 1; probs *= scale[:, None]`` in place, in one pass."""
    loop = _compiled(_sparse_ce_grad_loop)
    if loop is None or not _labels_fit(probs, labels):
        return False
    if type(scale) is not np.ndarray or scale.shape != probs.shape[:1]:
        return False
    if scale.dtype != probs.dtype or not scale.flags.c_contiguous:
        return False
    return loop(probs, labels, scale, probs.dtype.type(1.0))


def take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """``np.take(x, rows, axis=0)`` for a 2-D C-order numeric ``x`` and int64 ``rows``, or
    None when NumPy must do it."""
    loop = _compiled(_take_rows_loop)
    if loop is None or type(x) is not np.ndarray or x.ndim != 2 or not x.flags.c_contiguous:
        return None
    if x.dtype not in _TAKEN or rows.dtype != np.int64 or rows.ndim != 1:
        return None
    out = np.empty((len(rows), x.shape[1]), x.dtype)
    return out if loop(x, rows, out) else None
