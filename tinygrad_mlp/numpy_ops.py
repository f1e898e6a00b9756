"""NumPy's operations on ``Value``s, each defined through ``Function`` like a user's op.

Every op here is either a ``Function`` subclass, its NumPy forward and its
gradient side by side, or sugar composed from other ops (``var`` is a mean of
squares, ``tensordot`` a transpose, reshape and ``@``). Backward rules are
written with Value operations, so each is differentiable again
(``create_graph=True``). Names and arguments follow NumPy (``axis``,
``keepdims``, ``ddof``); PyTorch decides the gradient where the math leaves a
choice (ties, kinks, NaN).

The ops are available as functions (``tinygrad_mlp.sin(x)``) and as ``Value``
methods (``x.sin()``); functions take plain numbers and arrays too.
"""

from __future__ import annotations

import builtins
import math
import string
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Function, Value, _as_value, _normalize_axis
from tinygrad_mlp.ops import _scatter, concatenate, stack
from tinygrad_mlp.ops import where as _where

__all__ = [
    # elementwise
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arctanh",
    "exp", "log", "sqrt", "abs", "log1p", "expm1", "log2", "log10", "exp2", "sign", "square",
    "reciprocal", "erf", "maximum", "minimum", "logaddexp", "clip",
    # activations
    "sigmoid", "relu", "logsigmoid", "hardtanh", "softsign", "silu", "swish", "gelu", "mish",
    "celu", "hard_sigmoid", "softmax", "log_softmax",
    # reductions
    "sum", "mean", "max", "min", "var", "std", "prod", "cumsum", "cumprod", "argmax", "argmin",
    "logsumexp",
    # shape
    "reshape", "transpose", "flip", "roll", "pad", "repeat", "tile", "squeeze", "expand_dims",
    "swapaxes", "moveaxis", "split", "diagonal", "trace", "triu", "tril",
    # products
    "matmul", "dot", "outer", "tensordot", "einsum",
    # constructors
    "zeros", "ones", "full", "arange", "eye", "linspace",
]  # fmt: skip

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_PI_12 = 2.0 / math.sqrt(math.pi)  # 2 / sqrt(pi)


# ----------------------------------------------------------------------------
# elementwise functions of one input: forward and derivative side by side


def _unary(name: str, forward: Callable, derivative: Callable, doc: str) -> type[Function]:
    """A Function ``f`` whose gradient is ``g * derivative(x, f(x))``.

    ``forward`` is a NumPy function; ``derivative`` is written with Value
    operations on the input ``x`` and the result ``out``.
    """

    def fwd(ctx: Any, x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = forward(x)
        ctx.save_for_backward(x, out)
        return out

    def bwd(ctx: Any, g: Value) -> Value:
        x, out = ctx.saved_values
        return g * derivative(x, out)

    cls = type(name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd)})
    cls.__doc__ = doc
    cls.__module__ = __name__
    return cls


def _zeros_like(x: Value) -> Value:
    return Value(0.0 if x.is_scalar else np.zeros(x.shape, x.dtype), requires_grad=False)


def _np_erf(x: Any) -> Any:
    if type(x) is float:
        return math.erf(x)
    return np.asarray(_erf_array(x)).astype(x.dtype, copy=False)


_erf_python = np.frompyfunc(math.erf, 1, 1)  # exact, element by element


def _erf_elementwise(x: np.ndarray) -> np.ndarray:
    return _erf_python(x).astype(np.float64)


try:  # SciPy's vectorised erf is ~50x faster; it is optional (NumPy has no erf)
    from scipy.special import erf as _erf_array
except ImportError:  # pragma: no cover - depends on the environment
    _erf_array = _erf_elementwise

# name: (NumPy forward, d/dx as Value ops of (x, out), the math in one line)
_UNARY: dict[str, tuple[Callable, Callable, str]] = {
    "sin": (np.sin, lambda x, out: x.cos(), "d/dx sin x = cos x"),
    "cos": (np.cos, lambda x, out: -x.sin(), "d/dx cos x = -sin x"),
    "tan": (np.tan, lambda x, out: 1.0 + out * out, "d/dx tan x = 1 + tan^2 x"),
    "arcsin": (np.arcsin, lambda x, out: 1.0 / (1.0 - x * x).sqrt(), "d/dx asin = 1/sqrt(1-x²)"),
    "arccos": (np.arccos, lambda x, out: -1.0 / (1.0 - x * x).sqrt(), "d/dx acos = -1/sqrt(1-x²)"),
    "arctan": (np.arctan, lambda x, out: (1.0 + x * x) ** -1.0, "d/dx atan x = 1/(1+x^2)"),
    "sinh": (np.sinh, lambda x, out: x.cosh(), "d/dx sinh x = cosh x"),
    "cosh": (np.cosh, lambda x, out: x.sinh(), "d/dx cosh x = sinh x"),
    "arctanh": (np.arctanh, lambda x, out: (1.0 - x * x) ** -1.0, "d/dx atanh x = 1/(1-x^2)"),
    "log1p": (np.log1p, lambda x, out: (1.0 + x) ** -1.0, "d/dx log(1+x) = 1/(1+x)"),
    "expm1": (np.expm1, lambda x, out: out + 1.0, "d/dx (e^x - 1) = e^x"),
    "log2": (np.log2, lambda x, out: (x * _LN2) ** -1.0, "d/dx log2 x = 1/(x ln 2)"),
    "log10": (np.log10, lambda x, out: (x * _LN10) ** -1.0, "d/dx log10 x = 1/(x ln 10)"),
    "exp2": (np.exp2, lambda x, out: out * _LN2, "d/dx 2^x = 2^x ln 2"),
    "sign": (np.sign, lambda x, out: _zeros_like(out), "d/dx sign x = 0 (none at the jump)"),
    "square": (np.square, lambda x, out: 2.0 * x, "d/dx x^2 = 2x"),
    "reciprocal": (np.reciprocal, lambda x, out: -(out * out), "d/dx 1/x = -1/x^2"),
    "erf": (_np_erf, lambda x, out: _TWO_PI_12 * (-x * x).exp(), "d/dx erf x = 2/sqrt(pi) e^-x^2"),
}  # fmt: skip

_UNARY_FUNCTIONS = {
    name: _unary(name, fwd, der, f"{name}(x), NumPy's ``np.{name}``;  {doc}.")
    for name, (fwd, der, doc) in _UNARY.items()
}


def _unary_function(name: str) -> Callable[[Any], Value]:
    op = _UNARY_FUNCTIONS[name]

    def fn(x: Any) -> Value:
        return op.apply(_as_value(x))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = op.__doc__
    return fn


sin = _unary_function("sin")
cos = _unary_function("cos")
tan = _unary_function("tan")
arcsin = _unary_function("arcsin")
arccos = _unary_function("arccos")
arctan = _unary_function("arctan")
sinh = _unary_function("sinh")
cosh = _unary_function("cosh")
arctanh = _unary_function("arctanh")
log1p = _unary_function("log1p")
expm1 = _unary_function("expm1")
log2 = _unary_function("log2")
log10 = _unary_function("log10")
exp2 = _unary_function("exp2")
sign = _unary_function("sign")
square = _unary_function("square")
reciprocal = _unary_function("reciprocal")
erf = _unary_function("erf")


# ----------------------------------------------------------------------------
# elementwise functions of two inputs


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


def _share(x: Any, y: Any, lose: Any) -> np.ndarray:
    """x's share of the gradient of max/min(x, y): 1, 1/2 at ties, 0 where ``lose`` holds."""
    with np.errstate(invalid="ignore"):
        share = np.where(np.equal(x, y), 0.5, np.where(lose, 0.0, 1.0))
    return share


class _Extremum(Function):
    """max/min(a, b) elementwise (NaN wins); ties split the gradient, as PyTorch does.

    A subclass names the NumPy function (``pick``) and ``loses(x, y)``: where x
    loses, its share of the gradient is 0; at a tie each side has half.
    """

    pick: Callable[[Any, Any], Any]
    loses: Callable[[Any, Any], Any]

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return ctx._function.pick(a, b)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, Value]:
        a, b = (v.data for v in ctx.saved_values)
        loses = ctx._function.loses
        with np.errstate(invalid="ignore"):
            return g * _share(a, b, loses(a, b)), g * _share(b, a, loses(b, a))


class Maximum(_Extremum):
    """Elementwise larger of a and b."""

    pick = staticmethod(np.maximum)
    loses = staticmethod(np.less)


class Minimum(_Extremum):
    """Elementwise smaller of a and b."""

    pick = staticmethod(np.minimum)
    loses = staticmethod(np.greater)


class LogAddExp(Function):
    """log(e^a + e^b), stable;  d/da = sigmoid(a - b), d/db = sigmoid(b - a)."""

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> Any:
        ctx.save_for_backward(a, b)
        return np.logaddexp(a, b)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, Value]:
        a, b = ctx.saved_values
        return g * (a - b).sigmoid(), g * (b - a).sigmoid()


def maximum(a: Any, b: Any) -> Value:
    """Elementwise maximum (NumPy's ``np.maximum``), broadcasting."""
    return Maximum.apply(_as_value(a), _as_value(b))


def minimum(a: Any, b: Any) -> Value:
    """Elementwise minimum (NumPy's ``np.minimum``), broadcasting."""
    return Minimum.apply(_as_value(a), _as_value(b))


def logaddexp(a: Any, b: Any) -> Value:
    """log(e^a + e^b) without overflow (NumPy's ``np.logaddexp``)."""
    return LogAddExp.apply(_as_value(a), _as_value(b))


# ----------------------------------------------------------------------------
# activations (PyTorch's and Keras' definitions)


class HardTanh(Function):
    """clip(x, min_val, max_val); the gradient passes strictly inside, as PyTorch's."""

    @staticmethod
    def forward(ctx: Any, x: Any, min_val: float, max_val: float) -> Any:
        ctx.inside = (np.asarray(x) > min_val) & (np.asarray(x) < max_val)
        out = np.clip(x, min_val, max_val)
        return float(out) if type(x) is float else out

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None, None]:
        inside = ctx.inside
        mask = (1.0 if inside else 0.0) if inside.ndim == 0 else inside.astype(np.float64)
        return g * mask, None, None


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Value:
    """clip(x, min_val, max_val) (PyTorch's ``hardtanh``)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh needs min_val <= max_val, received {min_val} > {max_val}")
    return HardTanh.apply(_as_value(x), float(min_val), float(max_val))


def logsigmoid(x: Any) -> Value:
    """log sigma(x) = -softplus(-x), finite for large |x|;  d/dx = sigma(-x)."""
    return -(-_as_value(x)).softplus()


def softsign(x: Any) -> Value:
    """x / (1 + |x|);  d/dx = 1 / (1 + |x|)^2."""
    x = _as_value(x)
    return x / (1.0 + x.abs())


def silu(x: Any) -> Value:
    """x sigma(x) (swish);  d/dx = sigma(x) (1 + x (1 - sigma(x)))."""
    x = _as_value(x)
    return x * x.sigmoid()


swish = silu


def gelu(x: Any, approximate: str | bool = "none") -> Value:
    """x Phi(x) = x (1 + erf(x / sqrt 2)) / 2; ``approximate='tanh'`` (or True) uses the tanh form.

    The tanh form is ``x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``.
    """
    x = _as_value(x)
    if approximate not in ("none", "tanh", True, False):
        raise ValueError(f"gelu approximate must be 'none' or 'tanh', received {approximate!r}")
    if approximate in ("tanh", True):
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1.0 + inner.tanh())
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def mish(x: Any) -> Value:
    """x tanh(softplus(x)) (Misra, 2019)."""
    x = _as_value(x)
    return x * x.softplus().tanh()


def celu(x: Any, alpha: float = 1.0) -> Value:
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1)): ELU with a slope of 1 at 0 for every alpha."""
    if alpha == 0:
        raise ValueError("celu needs alpha != 0, received 0")
    return (_as_value(x) * (1.0 / alpha)).elu(1.0) * alpha


def hard_sigmoid(x: Any) -> Value:
    """relu6(x + 3) / 6 (PyTorch's ``hardsigmoid``, Keras 3's ``hard_sigmoid``)."""
    return (hardtanh(x, -3.0, 3.0) + 3.0) * (1.0 / 6.0)


# ----------------------------------------------------------------------------
# reductions


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Value:
    """sum (x - mean)^2 / (n - ddof) over ``axis`` (NumPy's ``np.var``)."""
    x = _as_value(x)
    axes = _normalize_axis(axis, x.ndim)
    n = math.prod([x.shape[a] for a in axes])
    d = x - x.mean(axis=axes, keepdims=True)
    if n - ddof > 0:
        scale = 1.0 / (n - ddof)
    else:  # NumPy's warning and answer: inf, or NaN where the sum is 0
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        scale = math.inf
    with np.errstate(invalid="ignore"):
        return (d * d).sum(axis=axes, keepdims=keepdims) * scale


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Value:
    """sqrt(var(x)) (NumPy's ``np.std``)."""
    return var(x, axis=axis, ddof=ddof, keepdims=keepdims) ** 0.5


def _along_last(x: Value, axes: tuple[int, ...]) -> tuple[Value, Callable[[Value], Value]]:
    """``x`` with ``axes`` moved to the end and merged into one, and the way back."""
    keep = [i for i in range(x.ndim) if i not in axes]
    perm = keep + list(axes)
    moved_shape = tuple(x.shape[i] for i in perm)
    flat = x.transpose(perm).reshape(tuple(x.shape[i] for i in keep) + (-1,))
    inverse = tuple(np.argsort(perm))

    def back(y: Value) -> Value:
        return y.reshape(moved_shape).transpose(inverse)

    return flat, back


class Prod(Function):
    """Product over ``axes``;  d/dx_i prod x = prod_{k != i} x_k (exact with zeros)."""

    @staticmethod
    def forward(ctx: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdims = axes, keepdims
        return np.prod(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None, None]:
        (x,) = ctx.saved_values
        if not ctx.axes:  # a product over nothing is the input itself
            return g, None, None
        flat, back = _along_last(x, ctx.axes)
        if flat.shape[-1] == 0:
            return None, None, None
        # the product of all the others = (product of those before) * (those after)
        before = _exclusive_cumprod(flat)
        after = _exclusive_cumprod(flat.flip(-1)).flip(-1)
        others = back(before * after)
        if not ctx.keepdims:
            g = g.reshape(tuple(1 if i in ctx.axes else n for i, n in enumerate(x.shape)))
        return g * others, None, None


def _exclusive_cumprod(x: Value) -> Value:
    """prod_{k < i} x_k along the last axis (1 for the first)."""
    ones = Value(np.ones(x.shape[:-1] + (1,), dtype=x.dtype), requires_grad=False)
    return concatenate([ones, x[..., :-1].cumprod(-1)], axis=-1)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Value:
    """Product of the elements over ``axis`` (NumPy's ``np.prod``)."""
    x = _as_value(x)
    return Prod.apply(x, _normalize_axis(axis, x.ndim), bool(keepdims))


def _flat_axis(x: Value, axis: Any) -> tuple[Value, int]:
    """NumPy's cumulative-op convention: ``axis=None`` works on the flattened array."""
    if axis is None or x.ndim == 0:  # a 0-d tensor accepts axis 0 and -1, as in PyTorch
        _normalize_axis(axis, x.ndim)
        return x.reshape(-1), 0
    (axis,) = _normalize_axis(axis, x.ndim)
    return x, axis


class CumSum(Function):
    """Running sum along an axis;  the gradient is the reversed running sum of g."""

    @staticmethod
    def forward(ctx: Any, x: Any, axis: int) -> Any:
        ctx.axis = axis
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None]:
        return g.flip(ctx.axis).cumsum(ctx.axis).flip(ctx.axis), None


class CumProd(Function):
    """Running product along an axis; the gradient is exact where inputs are 0.

    With ``p_i = prod_{k<i} x_k`` and ``s_i = g_i + x_{i+1} s_{i+1}``
    (from the end), ``dL/dx_i = p_i s_i``: no division by ``x_i``.
    """

    @staticmethod
    def forward(ctx: Any, x: Any, axis: int) -> Any:
        ctx.save_for_backward(x)
        ctx.axis = axis
        return np.cumprod(x, axis=axis)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None]:
        (x,) = ctx.saved_values
        axis = ctx.axis
        xs = x.moveaxis(axis, -1)
        gs = g.moveaxis(axis, -1)
        n = xs.shape[-1]
        if n == 0:
            return None, None
        s = [gs[..., n - 1]]
        for i in range(n - 2, -1, -1):
            s.append(gs[..., i] + xs[..., i + 1] * s[-1])
        suffix = stack(s[::-1], axis=-1)
        return (_exclusive_cumprod(xs) * suffix).moveaxis(-1, axis), None


def cumsum(x: Any, axis: int | None = None) -> Value:
    """Cumulative sum along ``axis`` (NumPy's ``np.cumsum``; None flattens)."""
    x, axis = _flat_axis(_tensor(x, "cumsum"), axis)
    return CumSum.apply(x, axis)


def cumprod(x: Any, axis: int | None = None) -> Value:
    """Cumulative product along ``axis`` (NumPy's ``np.cumprod``; None flattens)."""
    x, axis = _flat_axis(_tensor(x, "cumprod"), axis)
    return CumProd.apply(x, axis)


def _arg_reduction(numpy_fn: Callable, x: Any, axis: int | None, keepdims: bool) -> Any:
    data = _raw(x)
    if type(data) is float:
        _normalize_axis(axis, 0)
        return 0
    if axis is not None:
        (axis,) = _normalize_axis(axis, data.ndim) or (None,)
    return numpy_fn(data, axis=axis, keepdims=keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the largest element (NumPy's ``np.argmax``): integers, no gradient."""
    return _arg_reduction(np.argmax, x, axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the smallest element (NumPy's ``np.argmin``): integers, no gradient."""
    return _arg_reduction(np.argmin, x, axis, keepdims)


# ----------------------------------------------------------------------------
# shape: a gather from the flattened input, or a Function where that is cheaper


def _tensor(x: Any, what: str) -> Value:
    x = _as_value(x)
    if x.is_scalar:
        raise TypeError(f"{what} needs a tensor Value; this is a scalar Value ({x.data!r})")
    return x


def _gather(x: Value, numpy_op: Callable[[np.ndarray], np.ndarray]) -> Value:
    """``numpy_op`` applied to ``x`` by moving elements only: index the flat input.

    ``numpy_op`` runs once on the array of flat positions; the result says where
    every output element comes from, and indexing's gradient (a scatter-add)
    sums the gradient back onto repeated elements.
    """
    positions = numpy_op(np.arange(x.size).reshape(x.shape))
    return x.reshape(-1)[positions]


class Flip(Function):
    """Reverse the order of elements along ``axis``;  the gradient is flipped back."""

    @staticmethod
    def forward(ctx: Any, x: Any, axis: Any) -> Any:
        ctx.axis = axis
        return np.flip(x, axis).copy()

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None]:
        return g.flip(ctx.axis), None


class Roll(Function):
    """Shift elements cyclically along ``axis``;  the gradient is rolled back."""

    @staticmethod
    def forward(ctx: Any, x: Any, shift: Any, axis: Any) -> Any:
        ctx.shift, ctx.axis = shift, axis
        return np.roll(x, shift, axis)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None, None]:
        back = tuple(-s for s in ctx.shift) if isinstance(ctx.shift, tuple) else -ctx.shift
        return g.roll(back, ctx.axis), None, None


class PadConstant(Function):
    """Surround with a constant;  the gradient is the middle of g."""

    @staticmethod
    def forward(ctx: Any, x: Any, width: np.ndarray, value: float) -> Any:
        ctx.middle = tuple(slice(b, b + n) for (b, _), n in zip(width, np.shape(x), strict=True))
        return np.pad(x, width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None, None]:
        return g[ctx.middle], None, None


def flip(x: Any, axis: Any = None) -> Value:
    """Reverse the order of elements along ``axis`` (all axes by default; ``np.flip``)."""
    x = _tensor(x, "flip")
    return Flip.apply(x, _normalize_axis(axis, x.ndim))


def roll(x: Any, shift: Any, axis: Any = None) -> Value:
    """Roll elements cyclically (``np.roll``; None rolls the flattened array)."""
    x = _tensor(x, "roll")
    if axis is not None:
        axis = _normalize_axis(axis, x.ndim)
        axis = axis if len(axis) > 1 else axis[0]
    shift = tuple(int(s) for s in shift) if isinstance(shift, (tuple, list)) else int(shift)
    return Roll.apply(x, shift, axis)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Value:
    """Pad an array (``np.pad``) in the modes that copy elements: constant, edge, reflect, ..."""
    x = _tensor(x, "pad")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad mode must be one of {', '.join(_PAD_MODES)}, received {mode!r}")
    width = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    if (width < 0).any():
        raise ValueError(f"pad_width must be non-negative, received {pad_width!r}")
    if mode == "constant":
        return PadConstant.apply(x, width, float(constant_values))
    return _gather(x, lambda p: np.pad(p, width, mode=mode))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Value:
    """Repeat each element ``repeats`` times (``np.repeat``; None flattens first)."""
    x = _tensor(x, "repeat")
    if axis is not None:
        (axis,) = _normalize_axis(axis, x.ndim) or (0,)
    return _gather(x, lambda p: np.repeat(p, repeats, axis=axis))


def tile(x: Any, reps: Any) -> Value:
    """Repeat the whole array ``reps`` times along each axis (``np.tile``)."""
    x = _tensor(x, "tile")
    return _gather(x, lambda p: np.tile(p, reps))


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """The diagonal of the (axis1, axis2) planes, as a last axis (``np.diagonal``)."""
    x = _tensor(x, "diagonal")
    if x.ndim < 2:
        raise ValueError(f"diagonal needs at least 2 dimensions, received shape {x.shape}")
    return _gather(x, lambda p: np.diagonal(p, offset, axis1, axis2))


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """Sum along the diagonal (``np.trace``)."""
    return diagonal(x, offset, axis1, axis2).sum(axis=-1)


def squeeze(x: Any, axis: Any = None) -> Value:
    """Remove axes of length one (``np.squeeze``)."""
    x = _tensor(x, "squeeze")
    if axis is not None:
        axis = _normalize_axis(axis, x.ndim)
    return x.reshape(np.squeeze(np.empty(x.shape, dtype=bool), axis=axis).shape)


def expand_dims(x: Any, axis: Any) -> Value:
    """Insert axes of length one at ``axis`` (``np.expand_dims``)."""
    x = _as_value(x)
    return x.reshape(np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


def moveaxis(x: Any, source: Any, destination: Any) -> Value:
    """Move axes to new positions, the others keeping their order (``np.moveaxis``)."""
    x = _tensor(x, "moveaxis")
    source = _normalize_axis(source, x.ndim)
    destination = _normalize_axis(destination, x.ndim)
    if len(source) != len(destination):
        raise ValueError(
            f"moveaxis needs as many destinations as sources, received {len(source)} and "
            f"{len(destination)}"
        )
    order = [n for n in range(x.ndim) if n not in source]
    for dest, src in sorted(zip(destination, source, strict=True)):
        order.insert(dest, src)
    return x.transpose(order)


def swapaxes(x: Any, axis1: int, axis2: int) -> Value:
    """Exchange two axes (``np.swapaxes``)."""
    x = _tensor(x, "swapaxes")
    (a,) = _normalize_axis(axis1, x.ndim)
    (b,) = _normalize_axis(axis2, x.ndim)
    order = list(range(x.ndim))
    order[a], order[b] = b, a
    return x.transpose(order)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Value]:
    """Split into pieces along ``axis`` at indices or into equal sections (``np.split``)."""
    x = _tensor(x, "split")
    (axis,) = _normalize_axis(axis, x.ndim)
    pieces = np.split(np.arange(x.shape[axis]), indices_or_sections)
    out = []
    start = 0
    for piece in pieces:
        index = (slice(None),) * axis + (slice(start, start + len(piece)),)
        out.append(x[index])
        start += len(piece)
    return out


def _triangle(x: Any, k: int, lower: bool, what: str) -> Value:
    x = _tensor(x, what)
    if x.ndim < 2:
        raise ValueError(f"{what} needs at least 2 dimensions, received shape {x.shape}")
    n, m = x.shape[-2:]
    keep = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
    return _where(keep, x, 0.0)


def triu(x: Any, k: int = 0) -> Value:
    """Zero the elements below the k-th diagonal of the last two axes (``np.triu``)."""
    return _triangle(x, k, False, "triu")


def tril(x: Any, k: int = 0) -> Value:
    """Zero the elements above the k-th diagonal of the last two axes (``np.tril``)."""
    return _triangle(x, k, True, "tril")


# ----------------------------------------------------------------------------
# products


def dot(a: Any, b: Any) -> Value:
    """NumPy's ``np.dot``: a product for scalars, ``@`` up to 2-D, else a sum over
    the last axis of ``a`` and the second-to-last of ``b``."""
    a, b = _as_value(a), _as_value(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim == 1 or b.ndim == 1 or (a.ndim <= 2 and b.ndim <= 2):
        return a @ b  # the same sums as np.dot for these shapes
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


def outer(a: Any, b: Any) -> Value:
    """Outer product of the flattened inputs: ``out[i, j] = a[i] * b[j]`` (``np.outer``)."""
    a, b = _as_value(a), _as_value(b)
    return a.reshape(-1, 1) * b.reshape(1, -1)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Value:
    """Sum products over the given axes (``np.tensordot``): transpose, reshape and ``@``."""
    a, b = _tensor(a, "tensordot"), _tensor(b, "tensordot")
    if isinstance(axes, (int, np.integer)):
        axes_a = list(range(a.ndim - int(axes), a.ndim))
        axes_b = list(range(int(axes)))
    else:
        axes_a, axes_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    axes_a = list(_normalize_axis(tuple(axes_a), a.ndim))
    axes_b = list(_normalize_axis(tuple(axes_b), b.ndim))
    if len(axes_a) != len(axes_b) or any(
        a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b, strict=True)
    ):
        raise ValueError(
            f"tensordot shape mismatch: {a.shape} over axes {axes_a} and {b.shape} over "
            f"axes {axes_b}"
        )
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    k = math.prod([a.shape[i] for i in axes_a])
    left = a.transpose(free_a + axes_a).reshape(-1, k)
    right = b.transpose(axes_b + free_b).reshape(k, -1)
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    return (left @ right).reshape(shape)


def _einsum_parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit per-operand letters and output letters, with '...' spelled out."""
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum subscripts name {len(terms)} operands, received {len(shapes)} operands"
        )
    used = set(spec) - set(".,->")
    spare = [c for c in string.ascii_letters if c not in used]
    ellipsis_ndim = builtins.max(
        (
            len(s) - len(t.replace("...", ""))
            for t, s in zip(terms, shapes, strict=True)
            if "..." in t
        ),
        default=0,
    )
    letters = "".join(spare[:ellipsis_ndim])
    explicit = []
    for t, s in zip(terms, shapes, strict=True):
        if "..." in t:
            n = len(s) - len(t.replace("...", ""))
            t = t.replace("...", letters[ellipsis_ndim - n :] if n else "")
        if len(t) != len(s):
            raise ValueError(f"einsum term {t!r} does not match an operand of shape {s}")
        explicit.append(t)
    if arrow:
        output = output.replace("...", letters)
    else:  # NumPy's implicit output: letters that appear once, in order, after '...'
        counts = {c: "".join(explicit).count(c) for c in set("".join(explicit))}
        output = letters + "".join(
            sorted(c for c, n in counts.items() if n == 1 and c not in letters)
        )
    sizes: dict[str, int] = {}
    for t, s in zip(explicit, shapes, strict=True):
        for c, n in zip(t, s, strict=True):
            if sizes.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum letter {c!r} has size {sizes[c]} in one operand and {n} in another"
                )
    return explicit, output


class Einsum(Function):
    """``np.einsum``; the gradient for each operand is an einsum of g with the others.

    Letters summed away in only one operand come back through a ones operand;
    a letter repeated within an operand (a diagonal) is scattered back onto it.
    """

    @staticmethod
    def forward(ctx: Any, spec: tuple[list[str], str], *operands: Any) -> Any:
        ctx.save_for_backward(*operands)
        ctx.spec = spec
        terms, output = spec
        return np.einsum(",".join(terms) + "->" + output, *operands)

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Any, ...]:
        terms, output = ctx.spec
        operands = ctx.saved_values
        sizes = {
            c: n
            for t, x in zip(terms, operands, strict=True)
            for c, n in zip(t, x.shape, strict=True)
        }
        grads: list[Any] = [None]
        for k, (term, x) in enumerate(zip(terms, operands, strict=True)):
            if not ctx.needs_input_grad[k + 1]:
                grads.append(None)
                continue
            others = [
                (t, v) for i, (t, v) in enumerate(zip(terms, operands, strict=True)) if i != k
            ]
            target = "".join(dict.fromkeys(term))  # each letter once
            have = set(output).union(*(set(t) for t, _ in others))
            missing = "".join(c for c in target if c not in have)
            subs = [output] + [t for t, _ in others]
            args = [g] + [v for _, v in others]
            if missing:
                subs.append(missing)
                ones = np.ones(tuple(sizes[c] for c in missing), dtype=x.dtype)
                args.append(Value(ones, requires_grad=False))
            gk = einsum(",".join(subs) + "->" + target, *args)
            if target != term:  # a diagonal: put the values back on it
                gk = _onto_diagonal(gk, target, term, x.shape)
            grads.append(gk)
        return tuple(grads)


def _onto_diagonal(g: Value, target: str, term: str, shape: tuple[int, ...]) -> Value:
    """Scatter ``g`` (letters ``target``) into zeros of ``shape`` (letters ``term``)."""
    grid = np.indices(g.shape, sparse=True)
    index = tuple(grid[target.index(c)] for c in term)
    return _scatter(g, index, shape)


def einsum(subscripts: str, *operands: Any) -> Value:
    """Einstein summation (``np.einsum``): ``einsum('ij,jk->ik', a, b)`` is ``a @ b``."""
    values = [_as_value(x) for x in operands]
    shapes = [v.shape for v in values]
    spec = _einsum_parse(subscripts, shapes)
    return Einsum.apply(spec, *values)


def matmul(a: Any, b: Any) -> Value:
    """Matrix product with NumPy's rules (``a @ b``)."""
    return _as_value(a) @ b


# ----------------------------------------------------------------------------
# constructors (like PyTorch's: no gradient unless asked)


def _constructed(data: np.ndarray, dtype: Any, requires_grad: bool, label: str) -> Value:
    dtype = np.float64 if dtype is None else dtype
    return Value(
        np.asarray(data, dtype=dtype), requires_grad=requires_grad, label=label, dtype=dtype
    )


def zeros(shape: Any, dtype: Any = None, requires_grad: bool = False, label: str = "") -> Value:
    """A tensor of zeros (``np.zeros``)."""
    return _constructed(np.zeros(shape), dtype, requires_grad, label)


def ones(shape: Any, dtype: Any = None, requires_grad: bool = False, label: str = "") -> Value:
    """A tensor of ones (``np.ones``)."""
    return _constructed(np.ones(shape), dtype, requires_grad, label)


def full(
    shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False, label: str = ""
) -> Value:
    """A tensor filled with ``fill_value`` (``np.full``)."""
    return _constructed(np.full(shape, fill_value, dtype=np.float64), dtype, requires_grad, label)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    label: str = "",
) -> Value:
    """Evenly spaced values in [start, stop) (``np.arange``; ``arange(n)`` is 0..n-1)."""
    data = np.arange(start, step=step) if stop is None else np.arange(start, stop, step)
    return _constructed(data, dtype, requires_grad, label)


def eye(
    N: int,
    M: int | None = None,
    k: int = 0,
    dtype: Any = None,
    requires_grad: bool = False,
    label: str = "",
) -> Value:
    """The identity matrix, or ones on the k-th diagonal (``np.eye``)."""
    return _constructed(np.eye(N, M, k), dtype, requires_grad, label)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    dtype: Any = None,
    requires_grad: bool = False,
    label: str = "",
) -> Value:
    """``num`` evenly spaced values from start to stop (``np.linspace``)."""
    return _constructed(np.linspace(start, stop, num, endpoint), dtype, requires_grad, label)


# ----------------------------------------------------------------------------
# the engine's own ops as functions, for ``tinygrad_mlp.exp(x)`` and friends


def _method(name: str, doc_from: str | None = None) -> Callable[..., Any]:
    def fn(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(_as_value(x), name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = getattr(Value, doc_from or name).__doc__
    return fn


exp = _method("exp")
log = _method("log")
sqrt = _method("sqrt")
abs = _method("abs")  # noqa: A001 - NumPy's name
tanh = _method("tanh")
sigmoid = _method("sigmoid")
relu = _method("relu")
clip = _method("clip")
softmax = _method("softmax")
log_softmax = _method("log_softmax")
logsumexp = _method("logsumexp")
sum = _method("sum")  # noqa: A001
mean = _method("mean")
max = _method("max")  # noqa: A001
min = _method("min")  # noqa: A001
reshape = _method("reshape")
transpose = _method("transpose")


# ----------------------------------------------------------------------------
# the same ops as Value methods (``x.sin()``, ``x.var(ddof=1)``)

_METHODS: dict[str, Callable[..., Any]] = {
    **{name: globals()[name] for name in _UNARY},
    "maximum": maximum,
    "minimum": minimum,
    "logaddexp": logaddexp,
    "logsigmoid": logsigmoid,
    "hardtanh": hardtanh,
    "softsign": softsign,
    "silu": silu,
    "swish": swish,
    "gelu": gelu,
    "mish": mish,
    "celu": celu,
    "hard_sigmoid": hard_sigmoid,
    "var": var,
    "std": std,
    "prod": prod,
    "cumsum": cumsum,
    "cumprod": cumprod,
    "argmax": argmax,
    "argmin": argmin,
    "flip": flip,
    "roll": roll,
    "repeat": repeat,
    "tile": tile,
    "squeeze": squeeze,
    "expand_dims": expand_dims,
    "swapaxes": swapaxes,
    "moveaxis": moveaxis,
    "split": split,
    "diagonal": diagonal,
    "trace": trace,
    "triu": triu,
    "tril": tril,
    "dot": dot,
    "outer": outer,
}

for _name, _fn in _METHODS.items():
    setattr(Value, _name, _fn)
