"""The engine's own operations: each forward beside its backward rule.

Each op is a ``Value`` method (or a function of several Values) that computes
its result from its inputs' data and records itself with
``Value._make(data, parents, name, rule, ctx)``; its rule, written just above
it, is ``rule(g, out, ctx, *inputs) -> one gradient per input``. Rules use only
operators and methods that raw floats/arrays and Values share, so one copy of
the math runs in an ordinary backward (raw data) and under ``create_graph=True``
(Values, recording the backward pass for higher-order gradients).

These are the ops on the hot path of training, so they skip the ``Context``
object a ``Function`` allocates (that costs about as much as the op itself on a
scalar); everything else in ``numpy_ops`` is a ``Function``. Both end in the
same node and the same backward walk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import engine
from tinygrad_mlp.engine import (
    _SMALL,
    Value,
    _as_data,
    _as_value,
    _const,
    _mask,
    _normalize_axis,
    _one_axis,
    _raw,
    _unbroadcast,
)

__all__ = ["concatenate", "stack", "where"]


# ----------------------------------------------------------------------------
# numerical helpers shared by the rules: each works on raw data and on Values


def _exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Value) else _np_exp(x)


def _sigmoid(x: Any) -> Any:
    return x.sigmoid() if isinstance(x, Value) else _np_sigmoid(x)


def _softmax(x: Any, axis: int) -> Any:
    return x.softmax(axis) if isinstance(x, Value) else _np_softmax(x, axis)


def _scalar_unary(math_fn: Callable[[float], float], np_fn: Callable[[Any], Any]) -> Callable:
    """A float function that behaves like NumPy at the edges (nan/inf, not an exception)."""

    def fn(x: float) -> float:
        try:
            return math_fn(x)
        except (ValueError, OverflowError):
            with np.errstate(all="ignore"):
                return float(np_fn(x))

    return fn


_log = _scalar_unary(math.log, np.log)


_sqrt = _scalar_unary(math.sqrt, np.sqrt)


# ----------------------------------------------------------------------------
# arithmetic: a + b is the one addition; a - b is a + (-b), a / b is a * b**-1


def _add_bw(g, out, ctx, a, b):
    return g, g


def __add__(self, other: Any) -> Value:
    other = other if type(other) is Value else _const(other)
    return Value._make(self._data + other._data, (self, other), "+", _add_bw)


def __radd__(self, other: Any) -> Value:
    return _const(other) + self


def _mul_bw(g, out, ctx, a, b):
    return g * b, g * a


def __mul__(self, other: Any) -> Value:
    other = other if type(other) is Value else _const(other)
    return Value._make(self._data * other._data, (self, other), "*", _mul_bw)


def __rmul__(self, other: Any) -> Value:
    return _const(other) * self


def _neg_bw(g, out, ctx, a):
    return (-g,)


def __neg__(self) -> Value:
    return Value._make(-self._data, (self,), "neg", _neg_bw)


def __sub__(self, other: Any) -> Value:
    # a + (-b): the one addition rule; the node is named "-" so pictures show a subtraction
    out = self + _const(-_as_data(other)) if type(other) is not Value else self + (-other)
    out._op = "-"
    return out


def __rsub__(self, other: Any) -> Value:
    out = _const(other) + (-self)
    out._op = "-"
    return out


def __truediv__(self, other: Any) -> Value:
    if type(other) is not Value:
        other = _as_data(other)
        if type(other) is float and other != 0.0:  # x / 0 gives inf/nan like NumPy
            return self * (1.0 / other)
        other = _const(other)
    return self * other**-1.0


def __rtruediv__(self, other: Any) -> Value:
    return _const(other) * self**-1.0


def _pow_bw(g, out, ctx, a, b):
    """d(a^b)/da = b a^(b-1) (0 where b = 0);  d(a^b)/db = a^b ln a (0 where a = 0, b >= 0).

    The two exceptions are PyTorch's: they replace 0 * inf and 0 * -inf by the
    limits of the derivative (x^0 is constant; 0^b is 0 for every b > 0).
    """
    need_a, need_b = ctx
    ra, rb = _raw(a), _raw(b)
    if type(ra) is float and type(rb) is float:  # the scalar path: no NumPy warnings to mute
        return _pow_grads(g, out, a, b, ra, rb, need_a, need_b)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return _pow_grads(g, out, a, b, ra, rb, need_a, need_b)


def _pow_grads(g, out, a, b, ra, rb, need_a, need_b):
    ga = _zero_where(rb == 0, g * b * _pow_any(a, b - 1.0)) if need_a else None
    gb = _zero_where((ra == 0) & (rb >= 0), g * out * _log_any(a)) if need_b else None
    return ga, gb


def _zero_where(condition: Any, x: Any) -> Any:
    """0 where ``condition`` holds, else ``x`` (selected, so an inf or NaN there is dropped)."""
    if type(condition) is bool or isinstance(condition, np.bool_):
        return (0.0 * x if isinstance(x, Value) else 0.0) if condition else x
    if not condition.any():
        return x
    if isinstance(x, Value):
        return where(condition, 0.0, x)
    return np.where(condition, 0.0, x).astype(np.result_type(x), copy=False)


def _pow_any(a: Any, b: Any) -> Any:
    """a ** b that gives inf/nan like NumPy instead of raising on floats."""
    if isinstance(a, Value) or isinstance(b, Value):
        return _as_value(a) ** b
    if type(a) is float and type(b) is float:
        try:
            r = a**b
            return math.nan if type(r) is complex else r
        except (ZeroDivisionError, OverflowError):
            pass
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.power(a, b)
    return float(r) if type(a) is float and type(b) is float else r


def _log_any(x: Any) -> Any:
    if isinstance(x, Value):
        return x.log()
    if type(x) is float:
        return _log(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def __pow__(self, other: Any) -> Value:
    """a ** b, with gradients to both the base and (if it is a Value) the exponent."""
    other = other if type(other) is Value else _const(other)
    data = _pow_any(self._data, other._data)
    ctx = (self.requires_grad, other.requires_grad)
    return Value._make(data, (self, other), "**", _pow_bw, ctx)


def __rpow__(self, other: Any) -> Value:
    return _const(other) ** self


def _matmul_bw(g, out, ctx, a, b):
    """For C = A @ B: dA = G @ B^T, dB = A^T @ G (1-D operands are promoted, then squeezed)."""
    need_a, need_b = ctx
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec and b_vec:  # inner product: g is 0-d
        return (g * b if need_a else None), (g * a if need_b else None)
    if a_vec:
        a = a.reshape((1,) + a.shape)
        g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    if b_vec:
        b = b.reshape(b.shape + (1,))
        g = g.reshape(g.shape + (1,))
    ga = g @ _swap_last(b) if need_a else None
    gb = _swap_last(a) @ g if need_b else None
    if b_vec and gb is not None:
        gb = gb.reshape(gb.shape[:-1])
    return ga, gb


def _swap_last(x: Any) -> Any:
    """Swap the last two axes (matrix transpose of a batch)."""
    if isinstance(x, Value):
        axes = list(range(x.ndim))
        axes[-1], axes[-2] = axes[-2], axes[-1]
        return x.transpose(axes)
    return x.swapaxes(-1, -2)


def __matmul__(self, other: Any) -> Value:
    """Matrix product with NumPy's rules (1-D operands, batch broadcasting)."""
    other = other if type(other) is Value else _const(other)
    a, b = self._data, other._data
    if type(a) is float or type(b) is float:
        raise ValueError("@ needs tensors with at least one dimension, received a scalar Value")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul shape mismatch: {a.shape} @ {b.shape} (inner dimensions {ka} and {kb} differ)"
        )
    ctx = (self.requires_grad, other.requires_grad)
    return Value._make(a @ b, (self, other), "@", _matmul_bw, ctx)


def __rmatmul__(self, other: Any) -> Value:
    return _const(other) @ self


# ----------------------------------------------------------------------------
# elementwise functions


def _np_exp(x: Any) -> Any:
    if type(x) is float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf
    return np.exp(x)


def _exp_bw(g, out, ctx, a):
    return (g * out,)


def exp(self) -> Value:
    """e^x;  d/dx e^x = e^x."""
    return Value._make(_np_exp(self._data), (self,), "exp", _exp_bw)


def _log_bw(g, out, ctx, a):
    """d/dx ln x = 1/x."""
    return (g * _pow_any(a, -1.0),)


def log(self) -> Value:
    """Natural log (nan/-inf outside its domain, like NumPy);  d/dx ln x = 1/x."""
    x = self._data
    if type(x) is float:
        data = _log(x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            data = np.log(x)
    return Value._make(data, (self,), "log", _log_bw)


def _sqrt_bw(g, out, ctx, a):
    """d/dx sqrt(x) = 1 / (2 sqrt(x))."""
    return (g * (0.5 * _pow_any(out, -1.0)),)


def sqrt(self) -> Value:
    """x^(1/2) (NaN for x < 0, like NumPy);  d/dx sqrt(x) = 1 / (2 sqrt(x))."""
    x = self._data
    if type(x) is float:
        data = _sqrt(x)
    else:
        with np.errstate(invalid="ignore"):
            data = np.sqrt(x)
    return Value._make(data, (self,), "sqrt", _sqrt_bw)


def _abs_bw(g, out, ctx, a):
    """d/dx |x| = sign(x), 0 at 0 and at NaN (PyTorch's sgn)."""
    x = _raw(a)
    if type(x) is float:
        return (g * (1.0 if x > 0 else -1.0 if x < 0 else 0.0),)
    return (g * (_mask(x > 0, x) - _mask(x < 0, x)),)


def _v_abs(self) -> Value:
    """|x|;  d/dx |x| = sign(x) (0 at 0)."""
    return Value._make(abs(self._data), (self,), "abs", _abs_bw)


def _tanh_bw(g, out, ctx, a):
    """d/dx tanh(x) = 1 - tanh(x)^2."""
    return (g * (1.0 - out * out),)


def tanh(self) -> Value:
    """tanh(x);  d/dx tanh(x) = 1 - tanh(x)^2."""
    x = self._data
    data = math.tanh(x) if type(x) is float else np.tanh(x)
    return Value._make(data, (self,), "tanh", _tanh_bw)


def _np_sigmoid(x: Any) -> Any:
    """sigma(x) = 1 / (1 + e^-x), evaluated without overflow for large |x|."""
    if type(x) is float:
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _sigmoid_bw(g, out, ctx, a):
    """d/dx sigma(x) = sigma(x) (1 - sigma(x))."""
    return (g * (out * (1.0 - out)),)


def sigmoid(self) -> Value:
    """sigma(x) = 1 / (1 + e^-x), stable for large |x|;  sigma' = sigma (1 - sigma)."""
    return Value._make(_np_sigmoid(self._data), (self,), "sigmoid", _sigmoid_bw)


def _relu_bw(g, out, ctx, a):
    """1 where x > 0, else 0; NaN passes the gradient, as PyTorch's threshold rule does."""
    x = _raw(a)
    if type(x) is float:
        return (0.0 * g if x <= 0.0 else g,)
    if isinstance(g, Value):
        return (where(x <= 0, 0.0, g),)
    return (np.where(x <= 0, 0.0, g),)  # one comparison and one pass: no mask to cast


def _np_relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0) as PyTorch's threshold has it: +0.0 for every x <= 0 (-0.0 included), x
    elsewhere (NaN kept). np.maximum gives -0.0 for -0.0 on some array sizes and +0.0 on
    others (its SIMD and scalar loops differ); adding +0.0 turns -0.0 into +0.0 and leaves
    every other value as it is, so the result is the same at every size, and the same bits
    as the replayed step's selection (replay.py, _fused.py)."""
    out = np.maximum(x, 0)
    if out.dtype.kind == "f":
        out += 0.0
    return out


def relu(self) -> Value:
    """max(0, x);  gradient 1 where x > 0, else 0."""
    x = self._data
    data = (0.0 if x <= 0.0 else x) if type(x) is float else _np_relu(x)
    return Value._make(data, (self,), "relu", _relu_bw)


def _leaky_relu_bw(g, out, ctx, a):
    alpha = ctx
    pos = _mask(_raw(a) > 0, a)
    return (g * (pos + alpha * (1.0 - pos)),)


def leaky_relu(self, alpha: float = 0.01) -> Value:
    """x for x > 0, alpha x otherwise (Keras' LeakyReLU uses alpha=0.3; PyTorch 0.01)."""
    x = self._data
    data = (x if x > 0 else alpha * x) if type(x) is float else np.where(x > 0, x, alpha * x)
    return Value._make(data, (self,), "leaky_relu", _leaky_relu_bw, float(alpha))


def _elu_bw(g, out, ctx, a):
    """d/dx elu(x) = 1 for x > 0, else alpha e^x = elu(x) + alpha (NaN takes 1, as in PyTorch)."""
    alpha = ctx
    x = _raw(a)
    if type(x) is float:
        return (g * (out + alpha) if x <= 0.0 else g,)
    negative = x <= 0
    if isinstance(out, Value):
        return (g * where(negative, out + alpha, 1.0),)
    return (g * np.where(negative, out + alpha, 1.0).astype(x.dtype, copy=False),)


def elu(self, alpha: float = 1.0) -> Value:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    x = self._data
    if type(x) is float:
        data = x if x > 0 else alpha * math.expm1(x)
    else:
        data = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
    return Value._make(data, (self,), "elu", _elu_bw, float(alpha))


def selu(self) -> Value:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return 1.0507009873554805 * self.elu(1.6732632423543772)


def _softplus_bw(g, out, ctx, a):
    """d/dx log(1 + e^x) = sigma(x)."""
    return (g * _sigmoid(a),)


def softplus(self) -> Value:
    """log(1 + e^x) computed as max(x, 0) + log1p(e^-|x|);  d/dx = sigma(x)."""
    x = self._data
    if type(x) is float:
        data = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    else:
        data = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return Value._make(data, (self,), "softplus", _softplus_bw)


def _clip_bw(g, out, ctx, a):
    lo, hi = ctx
    x = _raw(a)
    inside = True
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return (g * _mask(inside, a),)


def clip(self, min: float | None = None, max: float | None = None) -> Value:
    """Limit to [min, max]; the gradient passes only where the input lies inside."""
    x = self._data
    if type(x) is float:
        data = x
        if min is not None and data < min:
            data = float(min)
        if max is not None and data > max:
            data = float(max)
    else:
        data = np.clip(x, min, max)
    return Value._make(data, (self,), "clip", _clip_bw, (min, max))


# ----------------------------------------------------------------------------
# reductions and softmax


def _identity_bw(g, out, ctx, a):
    return (g,)


def _scalar_reduction(self, op: str, axis: Any) -> Value:
    """A reduction of a scalar Value is the Value itself (axis None, 0 or -1)."""
    _normalize_axis(axis, 0)
    return Value._make(self._data, (self,), op, _identity_bw)


def _sum_bw(g, out, ctx, a):
    axes, keepdims = ctx
    shape = a.shape
    if not keepdims:
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return (_broadcast_any(g, shape),)


def _v_sum(self, axis: Any = None, keepdims: bool = False) -> Value:
    """Sum over ``axis`` (all axes by default); the gradient is broadcast back."""
    x = self._data
    if type(x) is float:
        return self._scalar_reduction("sum", axis)
    axes = _normalize_axis(axis, x.ndim)
    data = x.sum(axis=axes, keepdims=keepdims)
    return Value._make(data, (self,), "sum", _sum_bw, (axes, keepdims))


def _mean_bw(g, out, ctx, a):
    """The sum's gradient scaled by 1/n."""
    axes, keepdims, scale = ctx
    return _sum_bw(g * scale, out, (axes, keepdims), a)


def mean(self, axis: Any = None, keepdims: bool = False) -> Value:
    """Sum divided by the number of elements summed."""
    x = self._data
    if type(x) is float:
        return self._scalar_reduction("mean", axis)
    axes = _normalize_axis(axis, x.ndim)
    count = math.prod([x.shape[a] for a in axes])
    if count == 0:  # NumPy's answer and warning: NaN, "Mean of empty slice"
        data = np.mean(x, axis=axes, keepdims=keepdims)
        return Value._make(data, (self,), "mean", _mean_bw, (axes, keepdims, math.nan))
    scale = 1.0 / count
    # one node rather than sum then multiply: losses take a mean or two per batch
    data = x.sum(axis=axes, keepdims=keepdims) * scale
    return Value._make(data, (self,), "mean", _mean_bw, (axes, keepdims, scale))


def _max_bw(g, out, ctx, a):
    """The gradient goes to the maxima, shared equally among ties."""
    axes, keepdims = ctx
    x = _raw(a)
    m = _raw(out)
    if not keepdims:
        keep = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        m = m.reshape(keep)
        g = g.reshape(keep)
    hit = x == m
    if m.dtype.kind == "f" and np.isnan(m).any():  # as PyTorch: the gradient goes to the NaN
        hit |= np.isnan(x) & np.isnan(m)
    hit = hit.astype(x.dtype)
    hit /= hit.sum(axis=axes, keepdims=True)
    return (g * hit,)


def _v_max(self, axis: Any = None, keepdims: bool = False) -> Value:
    """Largest element over ``axis``; ties share the gradient equally."""
    x = self._data
    if type(x) is float:
        return self._scalar_reduction("max", axis)
    axes = _normalize_axis(axis, x.ndim)
    data = x.max(axis=axes, keepdims=keepdims)
    return Value._make(data, (self,), "max", _max_bw, (axes, keepdims))


def _v_min(self, axis: Any = None, keepdims: bool = False) -> Value:
    """Smallest element over ``axis``: -max(-x)."""
    return -((-self).max(axis=axis, keepdims=keepdims))


def _np_logsumexp(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(x.dtype, copy=False)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis=axis)


def _logsumexp_bw(g, out, ctx, a):
    """d/dx log sum e^x = softmax(x)."""
    axes, keepdims = ctx
    if not keepdims:
        keep = tuple(1 if i in axes else n for i, n in enumerate(a.shape))
        g = g.reshape(keep)
        out = out.reshape(keep)
    return (g * _exp(a - out),)


def logsumexp(self, axis: Any = -1, keepdims: bool = False) -> Value:
    """log sum e^x, stabilised by subtracting the max;  d/dx = softmax(x)."""
    x = self._data
    if type(x) is float:
        return self._scalar_reduction("logsumexp", axis)
    axes = _normalize_axis(axis, x.ndim)
    if x.size == 0:  # a sum of no exponentials is 0: log 0 = -inf, as in PyTorch
        data = np.full(np.sum(x, axis=axes, keepdims=keepdims).shape, -np.inf, dtype=x.dtype)
    else:
        data = _np_logsumexp(x, axes, keepdims)
    return Value._make(data, (self,), "logsumexp", _logsumexp_bw, (axes, keepdims))


def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _softmax_bw(g, out, ctx, a):
    """For s = softmax(x): dx = s * (g - sum(g * s))."""
    axis = ctx
    return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)


def softmax(self, axis: int = -1) -> Value:
    """e^x / sum e^x along ``axis`` (max-shifted: no overflow)."""
    x = self._tensor_data("softmax")
    axis = _one_axis(axis, x.ndim)
    return Value._make(_np_softmax(x, axis), (self,), "softmax", _softmax_bw, axis)


def log_softmax(self, axis: int = -1) -> Value:
    """x - logsumexp(x): finite even where softmax underflows to 0."""
    _one_axis(axis, self.ndim)
    return self - self.logsumexp(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------
# shape and indexing


def _reshape_bw(g, out, ctx, a):
    return (g.reshape(a.shape),)


def reshape(self, *shape: Any) -> Value:
    x = self._tensor_data("reshape")
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Value._make(x.reshape(shape), (self,), "reshape", _reshape_bw)


def flatten(self) -> Value:
    return self.reshape(-1)


def _transpose_bw(g, out, ctx, a):
    inverse = tuple(np.argsort(ctx))
    return (g.transpose(inverse),)


def transpose(self, *axes: Any) -> Value:
    """Permute axes (reverse them by default)."""
    x = self._tensor_data("transpose")
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    axes = tuple(axes) if axes else tuple(reversed(range(x.ndim)))
    return Value._make(x.transpose(axes), (self,), "transpose", _transpose_bw, axes)


def _v_T(self) -> Value:
    return self.transpose()


def _broadcast_any(x: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(x, Value):
        return x.broadcast_to(shape)
    if math.prod(shape) <= _SMALL:
        # np.broadcast_to costs about 1.7 us whatever the size; filling a small
        # array is several times cheaper, and a large one stays a view
        out = np.empty(shape, dtype=np.asarray(x).dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


def _broadcast_bw(g, out, ctx, a):
    return (_unbroadcast(g, a.shape),)


def broadcast_to(self, shape: tuple[int, ...]) -> Value:
    x = self._tensor_data("broadcast_to")
    return Value._make(np.broadcast_to(x, shape), (self,), "broadcast", _broadcast_bw)


def _getitem_bw(g, out, ctx, a):
    return (_scatter(g, ctx, a.shape),)


def _scatter(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """Place ``g`` at ``index`` in zeros of ``shape`` (adding repeats): the adjoint of indexing."""
    if isinstance(g, Value):
        return Value._make(_np_scatter(g._data, index, shape), (g,), "scatter", _scatter_bw, index)
    return _np_scatter(g, index, shape)


def _np_scatter(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    z = np.zeros(shape, dtype=g.dtype)
    np.add.at(z, index, g)
    return z


def _scatter_bw(g, out, ctx, a):
    return (g[ctx],)


def __getitem__(self, index: Any) -> Value:
    x = self._tensor_data("indexing")
    if isinstance(index, Value):
        index = index._data
    if isinstance(index, tuple):
        index = tuple(i._data if isinstance(i, Value) else i for i in index)
    return Value._make(x[index], (self,), "getitem", _getitem_bw, index)


# ----------------------------------------------------------------------------
# functions of several Values


def _concat_bw(g, out, ctx, *inputs):
    axis, bounds = ctx
    parts = []
    for start, stop in bounds:
        index = [slice(None)] * g.ndim
        index[axis] = slice(start, stop)
        parts.append(g[tuple(index)])
    return tuple(parts)


def concatenate(values: Sequence[Any], axis: int = 0) -> Value:
    """Join tensors along an existing axis (like ``np.concatenate``)."""
    vs = tuple(_as_value(v) for v in values)
    if not vs:
        raise ValueError("concatenate needs at least one Value")
    datas = [np.atleast_1d(v._data) for v in vs]
    data = np.concatenate(datas, axis=axis)
    axis = axis % data.ndim
    bounds, start = [], 0
    for d in datas:
        bounds.append((start, start + d.shape[axis]))
        start += d.shape[axis]
    return Value._make(data, vs, "concatenate", _concat_bw, (axis, tuple(bounds)))


def _stack_bw(g, out, ctx, *inputs):
    axis = ctx
    parts = []
    for i in range(len(inputs)):
        index = [slice(None)] * g.ndim
        index[axis] = i
        parts.append(g[tuple(index)])
    return tuple(parts)


def stack(values: Sequence[Any], axis: int = 0) -> Value:
    """Join Values (scalars or tensors of one shape) along a new axis (like ``np.stack``)."""
    vs = tuple(_as_value(v) for v in values)
    if not vs:
        raise ValueError("stack needs at least one Value")
    data = np.stack([np.asarray(v._data) for v in vs], axis=axis)
    return Value._make(data, vs, "stack", _stack_bw, axis % data.ndim)


def _where_bw(g, out, ctx, a, b):
    cond = ctx
    m = _mask(cond, out)
    return g * m, g * (1.0 - m)


def where(condition: Any, a: Any, b: Any) -> Value:
    """Elementwise ``a`` where ``condition`` holds, else ``b``; the gradient follows the choice."""
    a, b = _as_value(a), _as_value(b)
    cond = np.asarray(_raw(condition), dtype=bool)
    data = np.where(cond, a._data, b._data)
    return Value._make(data, (a, b), "where", _where_bw, cond)


# ----------------------------------------------------------------------------
# the rules above that read their output only for its shape and dtype, if at all:
# changing such an op's own result after recording cannot make its gradient wrong

# rules that use ``out`` only for its shape and dtype, if at all: changing such an
# op's own result afterwards cannot make its gradient wrong (the rest read it)
engine._RULES_NOT_READING_OUTPUT.update(
    {
        _add_bw,
        _identity_bw,
        _mul_bw,
        _neg_bw,
        _matmul_bw,
        _log_bw,
        _abs_bw,
        _relu_bw,
        _leaky_relu_bw,
        _softplus_bw,
        _clip_bw,
        _sum_bw,
        _mean_bw,
        _broadcast_bw,
        _reshape_bw,
        _transpose_bw,
        _getitem_bw,
        _scatter_bw,
        _concat_bw,
        _stack_bw,
        _where_bw,
    }
)


# ----------------------------------------------------------------------------
# the methods above are Value's own

for _name, _fn in {
    "__add__": __add__,
    "__radd__": __radd__,
    "__mul__": __mul__,
    "__rmul__": __rmul__,
    "__neg__": __neg__,
    "__sub__": __sub__,
    "__rsub__": __rsub__,
    "__truediv__": __truediv__,
    "__rtruediv__": __rtruediv__,
    "__pow__": __pow__,
    "__rpow__": __rpow__,
    "__matmul__": __matmul__,
    "__rmatmul__": __rmatmul__,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "abs": _v_abs,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "clip": clip,
    "_scalar_reduction": _scalar_reduction,
    "sum": _v_sum,
    "mean": mean,
    "max": _v_max,
    "min": _v_min,
    "logsumexp": logsumexp,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "reshape": reshape,
    "flatten": flatten,
    "transpose": transpose,
    "broadcast_to": broadcast_to,
    "__getitem__": __getitem__,
}.items():
    _fn.__qualname__ = f"Value.{_name}"
    setattr(Value, _name, _fn)
Value.__abs__ = _v_abs
Value.T = property(_v_T, doc=_v_T.__doc__)
