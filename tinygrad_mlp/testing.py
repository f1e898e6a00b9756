"""Tools for testing gradient code: a gradient checker and hypothesis strategies.

``gradcheck(fn, *inputs)`` differentiates ``fn`` with the engine and compares the
result with central differences computed in float64; ``gradgradcheck`` does the
same one order up. The hypothesis strategies draw ``Value`` inputs of random
shapes (broadcast-compatible sets, matmul-compatible pairs) with values kept
inside each operation's safe domain (``log`` of positives, ``relu`` away from 0,
...), so a property test of your own function takes a few lines.

A complete test you can paste into your own test file::

    import numpy as np
    from hypothesis import given
    from tinygrad_mlp.testing import broadcastable_values, gradcheck, safe_elements, values

    @given(broadcastable_values(num=2))
    def test_product_rule(xy):
        x, y = xy
        assert gradcheck(lambda a, b: (a * b).tanh(), x, y)

    @given(values(shape=(3, 4), elements=safe_elements("log")))
    def test_my_log_loss(x):
        assert gradcheck(lambda v: -(v.log() * v).mean(), x)

``gradcheck`` raises ``GradcheckError`` (an ``AssertionError``) naming the input,
the worst element's index and both gradients when they disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Value, detect_anomaly, grad, no_grad

__all__ = [
    "GradcheckError",
    "gradcheck",
    "gradgradcheck",
    "detect_anomaly",
    "values",
    "safe_elements",
    "arrays_for",
    "broadcastable_values",
    "matmul_pair",
    "function_inputs",
    "small_shapes",
    "SAFE_OPS",
]


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree (the message names where and by how much)."""


# ----------------------------------------------------------------------------
# gradient checking


def _leaf_data(x: Any) -> Any:
    """The data of an input: a Python float for scalar Values, else an ndarray."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(np.float64)
    return arr


def _needs_grad(x: Any) -> bool:
    """Plain numbers and arrays are checked; a Value only when it requires grad."""
    return x.requires_grad if isinstance(x, Value) else True


def _fresh(data: Any, requires_grad: bool, dtype: Any = None) -> Value:
    if type(data) is float:
        return Value(data, requires_grad=requires_grad)
    arr = np.array(data, dtype=dtype if dtype is not None else data.dtype, copy=True)
    return Value(arr, requires_grad=requires_grad)


def _as_output(out: Any, what: str) -> Value:
    if isinstance(out, Value):
        return out
    try:
        return Value(out, requires_grad=False)
    except TypeError:
        raise TypeError(f"{what} must return a Value, received {type(out).__name__}") from None


def _upstream(out: Value, seed: int) -> Any:
    """d(loss)/d(out): 1 for one-element outputs, else fixed random numbers."""
    if out.size == 1:
        return None
    rng = np.random.default_rng(seed)
    return rng.standard_normal(out.shape)


def _zeros_like(data: Any) -> Any:
    return 0.0 if type(data) is float else np.zeros(data.shape, dtype=np.float64)


def _numeric_grads(
    f: Callable[[list[Any]], Any], datas: list[Any], checked: list[bool], eps: float
) -> list[np.ndarray]:
    """Central differences of ``f`` (a number or a flat vector) in float64, element by element.

    For an input of shape S and an ``f`` of n values the result has shape
    ``(n,) + S`` (just S for a number): one Jacobian per checked input.
    """
    base = [d if type(d) is float else np.array(d, dtype=np.float64) for d in datas]
    results = []
    for i, (d, c) in enumerate(zip(base, checked, strict=True)):
        if not c:
            continue
        if type(d) is float:
            plus, minus = list(base), list(base)
            plus[i], minus[i] = d + eps, d - eps
            results.append(np.asarray((np.asarray(f(plus)) - f(minus)) / (2 * eps)))
            continue
        columns = []
        flat = d.reshape(-1)  # a view: editing it edits d, which ``base`` holds
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            hi = np.asarray(f(base))
            flat[k] = old - eps
            lo = np.asarray(f(base))
            flat[k] = old
            columns.append((hi - lo) / (2 * eps))
        if not columns:
            results.append(np.zeros(np.shape(f(base)) + d.shape))
            continue
        results.append(np.moveaxis(np.array(columns), 0, -1).reshape(columns[0].shape + d.shape))
    return results


def _compare(
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    indices: list[int],
    atol: float,
    rtol: float,
    what: str,
    lead: int = 0,
    worst: int = 3,
) -> str | None:
    """None when every element agrees; otherwise a message listing the worst ones.

    The first ``lead`` axes of each array index the output element (a Jacobian
    row), the rest the input element.
    """
    for i, a, n in zip(indices, analytic, numeric, strict=True):
        if a.shape != n.shape:
            return f"{what} for input {i} has shape {a.shape}, expected the input's shape {n.shape}"
        tolerance = atol + rtol * np.abs(n)
        with np.errstate(invalid="ignore"):
            difference = np.abs(a - n)
        difference = np.where(np.isnan(difference), np.inf, difference)  # nan never agrees
        failing = difference > tolerance
        if not failing.any():
            continue
        order = np.argsort(np.where(failing, difference, -1.0), axis=None)[::-1]
        lines = []
        for flat in order[: min(worst, int(failing.sum()))]:
            k = np.unravel_index(int(flat), a.shape)
            where = f"input {i} index {_index(k[lead:])}"
            if lead:
                where = f"d output{_index(k[:lead])} / d {where}"
            lines.append(
                f"  {where}: analytic {float(a[k])!r} vs numeric {float(n[k])!r} "
                f"(|difference| {float(difference[k]):.3g} > tolerance {float(tolerance[k]):.3g})"
            )
        shape = a.shape[lead:]
        return (
            f"{what} mismatch for input {i} (shape {shape}): {int(failing.sum())} of {a.size} "
            f"partial derivatives disagree (tolerance atol + rtol*|numeric|, atol={atol}, "
            f"rtol={rtol}); the worst:\n" + "\n".join(lines)
        )
    return None


def _index(k: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(int(j)) for j in k) + ("," if len(k) == 1 else "") + ")"


def _flat_output(fn: Callable[..., Any], point: list[Any]) -> np.ndarray:
    with no_grad():
        leaves = [_fresh(d, False, np.float64) for d in point]
        out = _as_output(fn(*leaves), "fn")
    return np.asarray(out.data, dtype=np.float64).reshape(-1)


def gradcheck(
    fn: Callable[..., Value],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    max_outputs: int = 256,
) -> bool:
    """Check the engine's Jacobian of ``fn`` against central differences.

    ``d out_j / d x_k ~= (out_j(x + eps e_k) - out_j(x - eps e_k)) / (2 eps)`` for
    every output element j and every element k of every input: one backward
    pass per output element against two forward passes per input element. The
    analytic pass runs in the inputs' own dtype; the numeric pass on float64
    copies. Outputs with more than ``max_outputs`` elements are checked through
    ``sum(out * u)`` with fixed random ``u`` (seed 0) instead, which the message
    then says.

    Args:
        fn: takes one Value per input and returns a Value of any shape.
        *inputs: Values (scalar or tensor) or arrays/numbers. Arrays and numbers
            are checked; Values only if they have ``requires_grad=True`` (others
            are passed as constants). Inputs are never modified.
        eps: finite-difference step.
        atol, rtol: an element passes when ``|analytic - numeric| <= atol + rtol*|numeric|``.
        raise_exception: raise ``GradcheckError`` on failure (else return False).
        max_outputs: the largest output checked element by element.

    Returns:
        True when all partial derivatives agree. A failure names the input, the
        output and input indices of the worst elements, and both numbers.

    >>> gradcheck(lambda x: (x * x).sum(), np.array([1.0, -2.0]))
    True
    """
    datas = [_leaf_data(x) for x in inputs]
    checked = [_needs_grad(x) for x in inputs]
    indices = [i for i, c in enumerate(checked) if c]
    leaves = [_fresh(d, c) for d, c in zip(datas, checked, strict=True)]
    out = _as_output(fn(*leaves), "fn")
    targets = [v for v, c in zip(leaves, checked, strict=True) if c]
    shapes = [np.shape(v.data) for v in targets]
    if out.size <= max_outputs:
        rows: list[list[Any]] = []
        for j in range(out.size):
            if not out.requires_grad or not targets:
                rows.append([_zeros_like(v.data) for v in targets])
                continue
            seed = None
            if out.size > 1 or out.ndim:
                seed = np.zeros(out.shape)
                seed.reshape(-1)[j] = 1.0
            rows.append(grad(out, targets, grad_output=seed))
        # Jacobians of shape out.shape + input shape (a scalar output has no row index)
        analytic = [
            np.array([np.asarray(r[t], dtype=np.float64) for r in rows]).reshape(out.shape + s)
            for t, s in enumerate(shapes)
        ]
        numeric = _numeric_grads(lambda p: _flat_output(fn, p), datas, checked, eps)
        numeric = [n.reshape(out.shape + s) for n, s in zip(numeric, shapes, strict=True)]
        problem = _compare(analytic, numeric, indices, atol, rtol, "gradient", lead=out.ndim)
    else:
        upstream = _upstream(out, 0)
        analytic = [np.asarray(g, dtype=np.float64) for g in grad(out, targets, upstream)]
        numeric = _numeric_grads(
            lambda p: float(_flat_output(fn, p) @ upstream.reshape(-1)), datas, checked, eps
        )
        problem = _compare(analytic, numeric, indices, atol, rtol, "gradient")
        if problem is not None:
            problem += (
                f"\n(the output has {out.size} elements, more than max_outputs={max_outputs}: "
                "these are the derivatives of sum(out * u) for fixed random u, seed 0)"
            )
    if problem is None:
        return True
    if raise_exception:
        raise GradcheckError("gradcheck failed: " + problem)
    return False


def gradgradcheck(
    fn: Callable[..., Value],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: the gradient of ``h(x) = sum_i grad_i(x) . v_i``.

    ``grad_i`` is the first-order gradient of ``sum(fn(x) * u)`` (as in
    ``gradcheck``) and ``v_i`` fixed random directions (seed 1). The analytic
    side differentiates ``h`` built with ``create_graph=True`` (a Hessian-vector
    product); the numeric side takes central differences of ``h`` computed with
    ordinary first-order backward in float64. Arguments as in ``gradcheck``.
    """
    datas = [_leaf_data(x) for x in inputs]
    checked = [_needs_grad(x) for x in inputs]
    indices = [i for i, c in enumerate(checked) if c]
    rng = np.random.default_rng(1)
    directions = [
        rng.standard_normal(np.shape(d)) for d, c in zip(datas, checked, strict=True) if c
    ]

    def first_order(leaves: list[Value], create_graph: bool) -> tuple[list[Any], Value]:
        out = _as_output(fn(*leaves), "fn")
        targets = [v for v, c in zip(leaves, checked, strict=True) if c]
        if not out.requires_grad:
            return [_zeros_like(v.data) for v in targets], out
        upstream = _upstream(out, 0)
        return grad(out, targets, grad_output=upstream, create_graph=create_graph), out

    leaves = [_fresh(d, c) for d, c in zip(datas, checked, strict=True)]
    firsts, _ = first_order(leaves, create_graph=True)
    h: Any = 0.0
    for g, v in zip(firsts, directions, strict=True):
        g = g if isinstance(g, Value) else Value(g, requires_grad=False)
        h = h + (g * v).sum() if g.ndim else h + g * float(v)
    h = h if isinstance(h, Value) else Value(h, requires_grad=False)
    targets = [v for v, c in zip(leaves, checked, strict=True) if c]
    if h.requires_grad:
        analytic = grad(h, targets)
    else:
        analytic = [_zeros_like(v.data) for v in targets]
    analytic = [np.asarray(_unwrap(a), dtype=np.float64) for a in analytic]

    def f(point: list[Any]) -> float:
        leaves = [_fresh(d, c, np.float64) for d, c in zip(point, checked, strict=True)]
        firsts, _ = first_order(leaves, create_graph=False)
        return float(
            sum(float(np.sum(np.asarray(g) * v)) for g, v in zip(firsts, directions, strict=True))
        )

    numeric = _numeric_grads(f, datas, checked, eps)
    problem = _compare(analytic, numeric, indices, atol, rtol, "second-order gradient")
    if problem is None:
        return True
    if raise_exception:
        raise GradcheckError("gradgradcheck failed: " + problem)
    return False


def _unwrap(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


# ----------------------------------------------------------------------------
# hypothesis strategies (hypothesis is imported lazily: it is a test dependency)


def _st():
    try:
        from hypothesis import strategies
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "tinygrad_mlp.testing strategies need hypothesis: pip install hypothesis"
        ) from error
    return strategies


# Ops whose safe domain is narrower than [-3, 3] (see ``safe_elements``): kinks
# at 0, domains of positive numbers, and kinks between elements or at +-1.
_AWAY_FROM_ZERO = ("relu", "abs", "leaky_relu", "elu", "selu", "div", "truediv", "rtruediv")
_POSITIVE = ("log", "sqrt", "pow")
_DISTINCT = ("max", "min", "clip")

SAFE_OPS: tuple[str, ...] = _AWAY_FROM_ZERO + _POSITIVE + _DISTINCT
"""Op names with a restricted safe domain; any other name gets the default range."""


def safe_elements(op: str | None = None, dtype: Any = np.float64) -> Any:
    """A strategy of floats where ``op`` is smooth, with room for finite differences.

    * ``log``, ``sqrt``, ``pow`` (the base): in [0.5, 3].
    * ``div``/``truediv``/``rtruediv`` (the divisor), ``relu``, ``abs``,
      ``leaky_relu``, ``elu``, ``selu`` (the kink at 0): |x| in [0.1, 3].
    * ``max``, ``min``, ``clip``: multiples of 0.05 in [-3, 3] that avoid
      +-1 (``clip(-1, 1)``'s kinks); ``arrays_for`` also makes them distinct,
      so there are no ties for ``max``/``min`` to split.
    * anything else (``exp``, ``tanh``, ``softmax``, ...): [-3, 3].
    """
    st = _st()
    width = 32 if np.dtype(dtype) == np.float32 else 64
    exact = np.float32 if width == 32 else np.float64  # bounds representable in dtype

    def floats(lo: float, hi: float) -> Any:
        return st.floats(float(exact(lo)), float(exact(hi)), width=width)

    if op in _POSITIVE:
        return floats(0.5, 3.0)
    if op in _AWAY_FROM_ZERO:
        magnitude = floats(0.1, 3.0)
        return st.tuples(magnitude, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    if op in _DISTINCT:
        grid = [k / 20 for k in range(-60, 61) if abs(abs(k) - 20) > 1]
        return st.sampled_from([float(np.asarray(x, dtype=dtype)) for x in grid])
    return floats(-3.0, 3.0)


def small_shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> Any:
    """Array shapes with at most ``max_dims`` axes of 1..``max_side`` elements."""
    from hypothesis.extra.numpy import array_shapes

    return array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def _shape_strategy(shape: Any) -> Any:
    st = _st()
    if shape is None or isinstance(shape, (tuple, list, int)):
        return st.just(shape if shape is None or not isinstance(shape, int) else (shape,))
    return shape


def arrays_for(op_name: str | None, shape: Any = None, dtype: Any = np.float64) -> Any:
    """A strategy of float arrays safe for ``op_name`` (see ``safe_elements``).

    ``shape`` is a tuple or a strategy of tuples (default: ``small_shapes()``).
    For ``max``/``min``/``clip`` the elements are distinct.
    """
    from hypothesis.extra.numpy import arrays

    shape = small_shapes() if shape is None else shape
    unique = op_name in _DISTINCT
    return arrays(
        dtype, _shape_strategy(shape), elements=safe_elements(op_name, dtype), unique=unique
    )


def values(
    shape: Any = ...,
    dtype: Any = np.float64,
    elements: Any = None,
    requires_grad: bool = True,
) -> Any:
    """A strategy of ``Value``s.

    Args:
        shape: a tuple, a strategy of tuples, ``...`` (the default) for any of
            ``small_shapes()``, or ``None`` for a *scalar* Value (``.data`` a Python
            float). ``()`` gives a 0-d tensor.
        dtype: the array dtype (tensors only; scalars are always float64).
        elements: a strategy of floats (default: ``safe_elements()``, [-3, 3]), or
            an op name for that op's safe domain (``values((3,), elements="log")``).
        requires_grad: passed to ``Value``.
    """
    from hypothesis.extra.numpy import arrays

    if elements is None or isinstance(elements, str):
        elements = safe_elements(elements, dtype)
    shapes = _shape_strategy(small_shapes() if shape is ... else shape)

    def build(s: Any) -> Any:
        if s is None:
            return elements.map(lambda x: Value(float(x), requires_grad=requires_grad))
        return arrays(dtype, s, elements=elements).map(
            lambda a: Value(a, requires_grad=requires_grad)
        )

    return shapes.flatmap(build)


def broadcastable_values(
    num: int = 2,
    dtype: Any = np.float64,
    elements: Any = None,
    requires_grad: bool = True,
    min_dims: int = 0,
    max_dims: int = 3,
    max_side: int = 4,
) -> Any:
    """A strategy of ``num`` tensor Values whose shapes broadcast together.

    Shapes come from ``hypothesis.extra.numpy.mutually_broadcastable_shapes``, so
    size-1 and missing leading axes appear (the gradient must be summed back over
    them). ``elements`` is a float strategy, an op name, or a list of either with
    one entry per Value (e.g. ``[None, "div"]`` for ``a / b``).
    """
    st = _st()
    from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

    if not isinstance(elements, (list, tuple)):
        elements = [elements] * num
    if len(elements) != num:
        raise ValueError(f"broadcastable_values got {len(elements)} elements for num={num}")
    strategies = [
        e if e is not None and not isinstance(e, str) else safe_elements(e, dtype) for e in elements
    ]
    shapes = mutually_broadcastable_shapes(
        num_shapes=num, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side
    )

    def build(bs: Any) -> Any:
        return st.tuples(
            *[
                arrays(dtype, s, elements=e).map(lambda a: Value(a, requires_grad=requires_grad))
                for s, e in zip(bs.input_shapes, strategies, strict=True)
            ]
        )

    return shapes.flatmap(build)


def matmul_pair(
    dtype: Any = np.float64,
    elements: Any = None,
    requires_grad: bool = True,
    max_dims: int = 2,
    max_side: int = 4,
) -> Any:
    """A strategy of two tensor Values ``(a, b)`` for which ``a @ b`` is defined.

    Shapes follow NumPy's matmul rules (signature ``(n?,k),(k,m?)->(n?,m?)``):
    1-D operands, plain matrices, and batched stacks with up to ``max_dims``
    broadcast batch axes.
    """
    st = _st()
    from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

    elements = (
        safe_elements(elements, dtype)
        if elements is None or isinstance(elements, str)
        else elements
    )
    shapes = mutually_broadcastable_shapes(
        signature=np.matmul.signature,
        min_dims=0,
        max_dims=max_dims,
        min_side=1,
        max_side=max_side,
    )

    def build(bs: Any) -> Any:
        a, b = bs.input_shapes
        return st.tuples(
            arrays(dtype, a, elements=elements).map(
                lambda x: Value(x, requires_grad=requires_grad)
            ),
            arrays(dtype, b, elements=elements).map(
                lambda x: Value(x, requires_grad=requires_grad)
            ),
        )

    return shapes.flatmap(build)


def function_inputs(
    function: Any,
    num: int | None = None,
    dtype: Any = np.float64,
    elements: Any = None,
    requires_grad: bool = True,
    max_dims: int = 3,
    max_side: int = 4,
) -> Any:
    """A strategy of argument tuples for a ``Function`` subclass (or any function of Values).

    The number of Values is read from ``forward(ctx, ...)`` (its parameters
    without defaults), or from the function's own signature, unless ``num``
    says it; the shapes broadcast together (``broadcastable_values``), so a
    property test of a user's op is three lines::

        @given(function_inputs(Cube))
        def test_cube(args):
            assert gradcheck(Cube.apply, *args)
    """
    import inspect

    if num is None:
        target = getattr(function, "forward", function)
        parameters = list(inspect.signature(target).parameters.values())
        if hasattr(function, "forward"):
            parameters = parameters[1:]  # ctx
        num = sum(
            1
            for p in parameters
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
    if num < 1:
        raise ValueError(f"function_inputs needs a function of at least one Value, found {num}")
    return broadcastable_values(
        num,
        dtype=dtype,
        elements=elements,
        requires_grad=requires_grad,
        max_dims=max_dims,
        max_side=max_side,
    )
