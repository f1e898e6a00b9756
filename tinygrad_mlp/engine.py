"""The autograd engine: one ``Value`` type that records a DAG and differentiates it.

A ``Value`` wraps a Python float (a *scalar*, as in micrograd) or a NumPy array
(a *tensor*). Every operation returns a new ``Value`` remembering its parents,
the name of the operation and a backward rule. ``backward()`` walks the DAG in
reverse topological order (iteratively: a chain of a million nodes works).

This file is the core: the ``Value`` type, grad mode, version counters, the
public ``Function`` API for new ops, and the backward walk. The operations
themselves live beside it, each forward next to its gradient: ``ops.py`` (the
arithmetic, activations, reductions and shapes on the training path) and
``numpy_ops.py`` (NumPy's wider set, written as ``Function`` subclasses).

Design notes (why it looks like this):

* A node's backward rule is a plain module-level function
  ``rule(g, out, ctx, *inputs)`` returning one gradient per input. Nodes hold no
  closures, so a node never refers back to itself: there are no reference
  cycles, the garbage collector has nothing to chase, and a graph is freed the
  moment it is unreachable. A ``Function`` is recorded with one such rule that
  calls its ``backward``.
* Rules are written with operators and ``.sum``/``.reshape`` only, so the same
  rule runs on raw floats/arrays (ordinary backward) and on ``Value`` objects
  (``create_graph=True``), which records the backward pass for higher-order
  gradients. One copy of the math serves both.
* Everything every op shares lives in one place (``_backprop``): skipping inputs
  that need no gradient, un-broadcasting a gradient to its input's shape,
  keeping the input's dtype, accumulating over reused nodes, and refusing a
  graph whose recorded data has changed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from operator import attrgetter
from typing import Any

import numpy as np

__all__ = [
    "Value",
    "Function",
    "Context",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "grad",
]

_ANOMALY = False
_new = object.__new__  # allocate a Value without running __init__ (ops set every slot)
_SMALL = 4096  # arrays up to this many elements are cheaper to copy than to view
# rules that read their op's output only for its shape and dtype (ops.py fills it)
_RULES_NOT_READING_OUTPUT: set = set()
_REPR_ELEMENTS = 64  # a repr shows every element up to this many, then a summary

Number = int | float


# ----------------------------------------------------------------------------
# grad mode: per thread, as in PyTorch
#
# Each thread has its own switch. Reading a thread-local costs several times a
# global read, and ``_make`` runs for every op, so a global count of the
# threads that are inside ``no_grad``/``enable_grad``/a backward pass right now
# guards it: while the count is 0 every thread records, and only otherwise is
# the calling thread's own switch read.

_mode = threading.local()
_OVERRIDES = 0
_overrides_lock = threading.Lock()


def is_grad_enabled() -> bool:
    """True when new operations are being recorded in the calling thread."""
    return _OVERRIDES == 0 or getattr(_mode, "enabled", True)


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = _enter_mode(enabled)
    try:
        yield
    finally:
        _leave_mode(previous)


def _enter_mode(enabled: bool) -> bool:
    """Switch the calling thread's grad mode; returns the mode to restore."""
    global _OVERRIDES
    previous = getattr(_mode, "enabled", True)
    with _overrides_lock:
        _OVERRIDES += 1
    _mode.enabled = enabled
    return previous


def _leave_mode(previous: bool) -> None:
    global _OVERRIDES
    _mode.enabled = previous
    with _overrides_lock:
        _OVERRIDES -= 1


def no_grad() -> AbstractContextManager[None]:
    """Record nothing inside the block (in this thread): results have ``requires_grad=False``."""
    return _grad_mode(False)


def enable_grad() -> AbstractContextManager[None]:
    """Record operations inside the block (in this thread) even within ``no_grad``."""
    return _grad_mode(True)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``FloatingPointError`` naming the first op whose value or gradient is not finite."""
    global _ANOMALY
    previous, _ANOMALY = _ANOMALY, True
    try:
        yield
    finally:
        _ANOMALY = previous


# ----------------------------------------------------------------------------
# version counters: a backward through data changed after it was recorded raises
#
# ``_CLOCK`` counts writes to ``Value.data`` (assignment, and augmented
# assignment such as ``w.data -= lr * w.grad``, which NumPy does in place).
# One slot, ``_stamp``, holds both clocks (one slot per Value less for the
# garbage collector to walk): its low 32 bits are the clock when an op made the
# Value (its birth), the bits above the clock of its last write (0: never).
# A recorded op is stale when its output, or an input it read, was written
# after the op's birth. In the common case no write happened since any node of
# the graph was made (every stamp equals the current clock) and the walk checks
# nothing more. (Past 2**32 writes, births would spill into the write bits.)

_CLOCK = 0
_BIRTH = (1 << 32) - 1


def _set_data(self: Value, data: Any) -> None:
    global _CLOCK
    _CLOCK += 1
    self._data = data
    try:
        birth = self._stamp & _BIRTH
    except AttributeError:  # a leaf's first write (leaves are stamped only when written)
        birth = 0
    self._stamp = birth | (_CLOCK << 32)


def _check_finite(data: Any, what: str) -> None:
    if type(data) is float:
        ok = math.isfinite(data)
    else:
        ok = bool(np.isfinite(data).all())
    if not ok:
        raise FloatingPointError(f"anomaly: {what} produced a non-finite value (inf or nan)")


# ----------------------------------------------------------------------------
# helpers shared by the rules: each works on raw data and on Values alike


def _raw(x: Any) -> Any:
    """The plain float/array behind ``x`` (used for masks, which carry no gradient)."""
    return x._data if isinstance(x, Value) else x


def _mask(condition: Any, like: Any) -> Any:
    """A 0/1 mask in ``like``'s dtype: a float for scalars, an array for tensors."""
    like = _raw(like)
    if type(like) is float:
        return 1.0 if condition else 0.0
    return np.asarray(condition).astype(like.dtype)


def _unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a gradient over the axes along which its input was broadcast."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes; out of range or repeated raises like NumPy.

    As in PyTorch, a 0-d tensor (or a scalar Value) accepts ``axis`` 0 and -1,
    which reduce over nothing.
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if ndim == 0:
        for a in axes:
            if a not in (0, -1):
                raise np.exceptions.AxisError(
                    f"axis {a} is out of bounds for a 0-d Value (which accepts 0 and -1)"
                )
        return ()
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"axis must be an integer or a tuple of integers, received {a!r}")
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(int(a), ndim)
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return tuple(out)


def _one_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """A single axis for softmax-like ops, normalised like ``_normalize_axis``."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"axis must be an integer, received {axis!r}")
    return _normalize_axis(axis, ndim)


# ----------------------------------------------------------------------------
# the Value type


def _as_data(data: Any, dtype: Any = None) -> Any:
    """Python numbers become floats (scalar Values); anything else a float ndarray.

    Giving a ``dtype`` always makes a tensor (a number becomes a 0-d array).
    """
    if isinstance(data, Value):
        data = data._data
    if dtype is None:
        if type(data) is float:
            return data
        if isinstance(data, (bool, int, float)) and not isinstance(data, np.generic):
            return float(data)
    arr = np.asarray(data, dtype=dtype)
    if arr.dtype.kind == "c":
        raise TypeError(
            f"Value holds real numbers; received complex data (dtype {arr.dtype}). "
            "Pass the real and imaginary parts as separate Values."
        )
    if dtype is None and arr.dtype.kind != "f":
        if arr.dtype.kind not in "biu":
            raise TypeError(
                f"Value expects a number or a numeric array, received dtype {arr.dtype}"
            )
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise TypeError(f"Value holds floating-point data; received dtype={arr.dtype}")
    return arr


class Value:
    """A node of the computational graph: data, gradient, and how it was made.

    ``Value(2.0)`` is a scalar (``.data`` and ``.grad`` are floats);
    ``Value(np.ones((3, 2), np.float32))`` is a tensor (``.data`` and ``.grad`` are
    arrays of that shape and dtype). Data inputs that need no gradient are made
    with ``requires_grad=False`` and cost no gradient work.

    >>> x = Value(3.0, label="x")
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad            # dy/dx = 2x + 2
    8.0
    """

    # Ten slots: a Value is 96 bytes, the size it had before ``_stamp`` came (a
    # weakref slot, which nothing used, made room); a bigger node measurably slows
    # the backward walk over a freshly built graph (more memory to touch).
    __slots__ = (
        "_data",
        "_stamp",
        "grad",
        "requires_grad",
        "label",
        "_op",
        "_parents",
        "_backward",
        "_ctx",
        "_acc",
    )
    __array_ufunc__ = None  # ndarray <op> Value defers to Value's reflected operators

    data = property(
        attrgetter("_data"),
        _set_data,
        doc="The value: a Python float (scalar) or an ndarray (tensor). Assigning "
        "it, in place or not, makes a later backward through ops that recorded "
        "the old data raise.",
    )

    def __init__(
        self, data: Any, requires_grad: bool = True, label: str = "", dtype: Any = None
    ) -> None:
        self._data = _as_data(data, dtype)
        self.grad = 0.0 if type(self._data) is float else None
        self.requires_grad = bool(requires_grad)
        self.label = label
        self._op = ""
        self._parents: tuple[Value, ...] = ()
        self._backward = None
        self._ctx = None
        self._acc = None

    @staticmethod
    def _make(
        data: Any, parents: tuple[Value, ...], op: str, backward: Callable, ctx: Any = None
    ) -> Value:
        """Create the result of an operation; record the graph only if a gradient can flow.

        This is the extension point for new ops: compute ``data`` from the parents'
        data, and give ``backward(g, out, ctx, *inputs) -> grads`` (see module doc).
        """
        out = _new(Value)
        if type(data) is float:
            out.grad = 0.0
        else:
            data = np.asarray(data)
            out.grad = None
        out._data = data
        out._stamp = _CLOCK  # born now, never written (leaves get a stamp at their first write)
        out.label = ""
        out._op = op
        out._acc = None
        if _ANOMALY:
            _check_finite(data, f"operation '{op}'")
        if _OVERRIDES == 0 or getattr(_mode, "enabled", True):
            for p in parents:
                if p.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    out._ctx = ctx
                    return out
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        out._ctx = None
        return out

    # -- introspection ---------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """``()`` for scalars, the array's shape for tensors."""
        return () if type(self._data) is float else self._data.shape

    @property
    def ndim(self) -> int:
        return 0 if type(self._data) is float else self._data.ndim

    @property
    def size(self) -> int:
        return 1 if type(self._data) is float else self._data.size

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float64) if type(self._data) is float else self._data.dtype

    @property
    def is_scalar(self) -> bool:
        """True for a micrograd-style scalar Value (``.data`` is a Python float)."""
        return type(self._data) is float

    @property
    def is_leaf(self) -> bool:
        """True for Values made by the user rather than by an operation."""
        return self._backward is None

    @property
    def op(self) -> str:
        """The operation that made this Value ('' for leaves)."""
        return self._op

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from (empty when nothing was recorded)."""
        return self._parents

    def __len__(self) -> int:
        if type(self._data) is float:
            raise TypeError("len() of a scalar Value")
        return len(self._data)

    def item(self) -> float:
        """The value as a Python float (tensors must hold exactly one element)."""
        if type(self._data) is float:
            return self._data
        if self._data.size != 1:
            raise ValueError(
                f"item() needs a Value with one element, received shape {self._data.shape}"
            )
        return float(self._data.reshape(()))

    def __float__(self) -> float:
        return self.item()

    def __int__(self) -> int:
        return int(self.item())

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (a 0-d array for scalars)."""
        return np.asarray(self._data)

    def tolist(self) -> Any:
        return self._data if type(self._data) is float else self._data.tolist()

    def __repr__(self) -> str:
        """The data as NumPy prints it (summarised past 64 elements), then what else is set.

        >>> Value(np.array([[0.25, -1.5], [3.0, 4.0]]))
        Value([[ 0.25, -1.5 ],
               [ 3.  ,  4.  ]], requires_grad=True)
        """
        name = f", label={self.label!r}" if self.label else ""
        data = self._data
        if type(data) is float:
            return f"Value(data={data!r}, grad={self.grad!r}{name})"
        small = data.size <= _REPR_ELEMENTS
        body = np.array2string(
            data,
            separator=", ",
            prefix="Value(",
            floatmode="unique" if small else "maxprec",
            precision=None if small else 4,
            threshold=_REPR_ELEMENTS,
            edgeitems=3,
        )
        extras = "" if small else f", shape={data.shape}"
        if data.dtype != np.float64:
            extras += f", dtype={data.dtype}"
        if self.requires_grad:
            extras += ", requires_grad=True"
        if self._op:
            extras += f", op={self._op!r}"
        return f"Value({body}{extras}{name})"

    # -- graph control ---------------------------------------------------------

    def detach(self) -> Value:
        """The same data, cut from the graph (no gradient flows through it)."""
        return Value(self._data, requires_grad=False, label=self.label)

    def requires_grad_(self, flag: bool = True) -> Value:
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self) -> None:
        """Reset this Value's gradient (0.0 for scalars, zeros for tensors)."""
        self.grad = 0.0 if type(self._data) is float else np.zeros_like(self._data)

    def backward(self, grad: Any = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(v) into ``v.grad`` for every Value ``v`` upstream.

        ``grad`` is d(loss)/d(self); it defaults to 1 and is required for tensors
        with more than one element. With ``create_graph=True`` the backward pass
        is itself recorded and ``.grad`` holds Values, so gradients can be
        differentiated again (``x.grad.backward()``).
        """
        order = self._prepare(grad)
        seed = self._seed(grad, create_graph)
        try:
            _backprop(self, order, seed, create_graph)
        except BaseException:
            # a failed pass (anomaly, a bad rule) must not leave partial gradients
            # behind for the next backward() through the same leaves
            for node in order:
                node._acc = None
            raise
        for node in order:
            g = node._acc
            if g is None:
                continue
            node._acc = None
            current = node.grad
            if type(g) is float and type(current) is float:  # the scalar fast path
                node.grad = current + g if current else g
                continue
            if type(node._data) is not float and not isinstance(g, Value):
                # a leaf's gradient is its own array (an op may hand the same array
                # to several inputs); intermediate gradients are kept as they come
                g = np.array(g, dtype=node._data.dtype) if node._backward is None else np.asarray(g)
            current = node.grad
            if current is None or (type(current) is float and current == 0.0):
                node.grad = g
            else:
                node.grad = current + g

    def _prepare(self, grad: Any) -> list[Value]:
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a Value that does not require grad: nothing upstream "
                "needs a gradient (was it computed under no_grad() or from detached data?)"
            )
        if grad is None and self.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {self.shape} needs a `grad` of that "
                "shape (the gradient of the final loss with respect to this Value)"
            )
        return _topological_order(self)

    def _seed(self, grad: Any, create_graph: bool) -> Any:
        if grad is None:
            seed = 1.0 if type(self._data) is float else np.ones_like(self._data)
        else:
            seed = grad._data if isinstance(grad, Value) else grad
            if type(self._data) is float:
                seed = float(np.asarray(seed).reshape(()))
            else:
                seed = np.asarray(seed, dtype=self._data.dtype)
                if seed.shape != self._data.shape:
                    raise ValueError(
                        f"backward() received a grad of shape {seed.shape}, "
                        f"expected the Value's shape {self._data.shape}"
                    )
        if create_graph:
            return grad if isinstance(grad, Value) else Value(seed, requires_grad=False)
        return seed

    # -- comparisons (the ops are in ops.py and numpy_ops.py) --------------------

    # comparisons give plain booleans/arrays: they carry no gradient.
    # ``==`` keeps identity semantics so Values can live in sets and dicts.
    def __lt__(self, other: Any) -> Any:
        return self._data < _raw(other)

    def __le__(self, other: Any) -> Any:
        return self._data <= _raw(other)

    def __gt__(self, other: Any) -> Any:
        return self._data > _raw(other)

    def __ge__(self, other: Any) -> Any:
        return self._data >= _raw(other)

    __hash__ = object.__hash__

    def _tensor_data(self, what: str) -> np.ndarray:
        x = self._data
        if type(x) is float:
            raise TypeError(f"{what} needs a tensor Value; this is a scalar Value ({x!r})")
        return x


_data_of = attrgetter("_data")


def _const(x: Any) -> Value:
    """Wrap a number or array as a Value that needs no gradient."""
    v = _new(Value)
    if type(x) is float:  # the common case: a plain number in scalar arithmetic
        v._data = x
        v.grad = 0.0
    else:
        v._data = _as_data(x)
        v.grad = 0.0 if type(v._data) is float else None
    v.requires_grad = False
    v.label = ""
    v._op = ""
    v._parents = ()
    v._backward = None
    v._ctx = None
    v._acc = None
    return v


def _as_value(x: Any) -> Value:
    return x if isinstance(x, Value) else _const(x)


# ----------------------------------------------------------------------------
# users' own operations


class Context:
    """What ``forward`` leaves for ``backward`` (PyTorch's ``ctx``).

    ``save_for_backward(*xs)`` keeps inputs or the output; ``backward`` reads
    them back as Values from ``saved_values``. ``needs_input_grad`` has one
    flag per argument of ``forward``. Any other attribute may be set freely
    (``ctx.axis = axis``).
    """

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple[Any, ...] = ()
        self._live: dict[int, Value] | None = None

    def save_for_backward(self, *xs: Any) -> None:
        """Keep ``xs`` (the data ``forward`` received or returned) for ``backward``."""
        self._saved = xs

    @property
    def saved_values(self) -> tuple[Any, ...]:
        """The saved data as Values: under ``create_graph=True`` the graph's own Values.

        Saving an input or the output (the very object ``forward`` received or
        returned) connects it to the graph, so a ``backward`` written with Value
        operations can itself be differentiated; anything else is a constant.
        """
        live = self._live
        if live is None:
            raise RuntimeError("saved_values can be read only inside backward()")
        saved = []
        for x in self._saved:
            if x is not None and not isinstance(x, Value):
                v = live.get(id(x))
                x = _const(x) if v is None else v
            saved.append(x)
        return tuple(saved)

    saved_tensors = saved_values  # PyTorch's name


class Function:
    """Base class of an operation with its own gradient, shaped like ``torch.autograd.Function``.

    Subclasses give two static methods and are called through ``apply``:

    * ``forward(ctx, *args)`` receives the data of Value arguments (floats or
      ndarrays; anything else as given) and returns the result's data;
    * ``backward(ctx, *grad_outputs)`` receives d(loss)/d(result) as a Value and
      returns one gradient per argument of ``forward`` (``None`` where there is
      none). Gradients of broadcast inputs may keep the broadcast shape: the
      engine sums them back. Written with Value operations, it can itself be
      differentiated (``create_graph=True``).

    >>> class Cube(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_values
    ...         return g * 3 * x**2          # d/dx x^3 = 3 x^2
    >>> x = Value(2.0)
    >>> Cube.apply(x).backward(); x.grad
    12.0
    """

    @staticmethod
    def forward(ctx: Context, *args: Any) -> Any:
        raise TypeError(
            f"{ctx._function.__name__} gives no forward: a Function subclass defines "
            "@staticmethod forward(ctx, *args)"
        )

    @staticmethod
    def backward(ctx: Context, *grad_outputs: Any) -> Any:
        raise TypeError(
            f"{ctx._function.__name__} gives no backward: a Function subclass defines "
            "@staticmethod backward(ctx, *grad_outputs)"
        )

    @classmethod
    def apply(cls, *args: Any) -> Value:
        """Run ``forward`` on the arguments' data and record the result in the graph."""
        positions, parents, needs, raw = [], [], [], []
        all_scalar = True  # every Value argument is a scalar Value
        for i, a in enumerate(args):
            if isinstance(a, Value):
                positions.append(i)
                parents.append(a)
                needs.append(a.requires_grad)
                raw.append(a._data)
                all_scalar = all_scalar and type(a._data) is float
            else:
                needs.append(False)
                raw.append(a)
        ctx = Context(tuple(needs))
        ctx._function = cls
        ctx._positions = positions
        ctx._nargs = len(args)
        previous = _enter_mode(False)  # no_grad() without a context manager's cost per call
        try:
            out = cls.forward(ctx, *raw)
        finally:
            _leave_mode(previous)
        if isinstance(out, Value):
            out = out._data
        ctx._returned = out  # saving this object saves the output (see saved_values)
        if type(out) is float:
            data = out
        else:
            if isinstance(out, (tuple, list)):
                raise TypeError(
                    f"{cls.__name__}.forward returned a {type(out).__name__}; a Function "
                    "returns one result (a number or an array)"
                )
            try:
                data = _as_data(out)
            except TypeError as error:
                raise TypeError(
                    f"{cls.__name__}.forward returned {type(out).__name__}: {error}"
                ) from None
            if type(data) is not float and data.ndim == 0 and parents and all_scalar:
                data = float(data)  # NumPy answers a float input with a NumPy scalar
        return Value._make(data, tuple(parents), cls.__name__, _function_bw, ctx)


def _function_bw(g, out, ctx, *inputs):
    """The engine's rule for a ``Function``: call its ``backward`` with Values, check its answer."""
    cls = ctx._function
    graph = isinstance(g, Value)  # create_graph: the backward is recorded
    live = {}
    values = inputs if graph else tuple(_const(x) for x in inputs)
    out_value = out if graph else _const(out)
    live[id(out_value._data)] = live[id(ctx._returned)] = out_value
    for v in values:
        live[id(v._data)] = v
    ctx._live = live
    try:
        if graph:
            grads = cls.backward(ctx, g)
        else:
            previous = _enter_mode(False)
            try:
                grads = cls.backward(ctx, _const(g))
            finally:
                _leave_mode(previous)
    finally:
        ctx._live = None
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != ctx._nargs:
        raise RuntimeError(
            f"{cls.__name__}.backward returned {len(grads)} gradient(s), expected "
            f"{ctx._nargs} (one per argument of forward, None where there is none)"
        )
    result = []
    for k, i in enumerate(ctx._positions):
        gi = grads[i]
        if gi is not None:
            gi = _conform_function_grad(cls, i, gi, values[k], graph)
        result.append(gi)
    return tuple(result)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _conform_function_grad(cls: type, index: int, gi: Any, value: Value, graph: bool) -> Any:
    if isinstance(gi, Value):
        if not graph:
            gi = gi._data
    elif graph:
        gi = _const(gi)
    else:
        gi = _as_data(gi)
    gshape, shape = np.shape(_raw(gi)), value.shape
    if gshape != shape and not _broadcasts_to(shape, gshape):
        raise RuntimeError(
            f"{cls.__name__}.backward returned a gradient of shape {gshape} for argument "
            f"{index}, which has shape {shape} (expected that shape or one it broadcasts to)"
        )
    return gi


# ----------------------------------------------------------------------------
# reverse-mode differentiation


def _topological_order(root: Value) -> list[Value]:
    """Nodes that need a gradient, each after all of its parents (iterative DFS).

    A node is pushed, then a ``None`` marker, then its parents; when the marker
    comes back off the stack every parent is finished, so the node is appended
    (post-order). Only flat list pushes: no per-node iterator or tuple objects,
    which keeps the garbage collector out of large graphs. Recorded data that
    was changed since is caught here, before any gradient is computed.
    """
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[Value | None] = [root]
    push, pop, visit = stack.append, stack.pop, seen.add
    clock = _CLOCK
    stale = False
    while stack:
        node = pop()
        if node is None:  # all parents of the node below the marker are done
            order.append(pop())
            continue
        if node in seen:  # pushed twice by two children; finished already
            continue
        visit(node)
        parents = node._parents
        if not parents:  # a leaf waits for nothing
            order.append(node)
            continue
        if node._stamp != clock:  # some data was written since this node was made
            stale = True
        push(node)
        push(None)
        for p in parents:
            if p.requires_grad and p not in seen:
                push(p)
    if stale:
        _check_versions(order)
    return order


def _check_versions(order: list[Value]) -> None:
    """Raise if an op's input, or its output where its rule reads it, changed after recording."""
    for node in order:
        parents = node._parents
        if not parents:
            continue
        born = node._stamp & _BIRTH
        if _written(node) > born and node._backward not in _RULES_NOT_READING_OUTPUT:
            _raise_modified(node, node, "its result")
        for p in parents:
            if _written(p) > born:
                _raise_modified(node, p, "an input")


def _written(v: Value) -> int:
    """The clock at ``v``'s last write, 0 if it was never written."""
    return getattr(v, "_stamp", 0) >> 32


def _raise_modified(node: Value, changed: Value, which: str) -> None:
    raise RuntimeError(
        f"backward() through operation '{node._op}' needs {which}, {changed!r}, whose "
        "data was assigned after the operation recorded it (.data = ... or an in-place "
        "update such as .data -= ...); the gradient would use the new data and be wrong. "
        "Run the forward pass again after changing .data (as a training step does)."
    )


def _backprop(root: Value, order: list[Value], seed: Any, create_graph: bool) -> None:
    """Fill ``node._acc`` with d(root)/d(node) for every node in ``order``."""
    root._acc = seed
    if create_graph:  # the backward pass is itself recorded
        with _grad_mode(True):
            _backprop_general(order, True)
    elif _ANOMALY:
        _backprop_general(order, False)
    else:  # rules on raw data make no Values (a Function's rule switches recording off)
        _backprop_fast(order)


def _backprop_general(order: list[Value], create_graph: bool) -> None:
    """The reference loop: any number of parents, recorded (create_graph) or checked."""
    for node in reversed(order):
        rule = node._backward
        g = node._acc
        if rule is None or g is None:
            continue
        parents = node._parents
        if create_graph:
            grads = rule(g, node, node._ctx, *parents)
        else:
            grads = rule(g, node._data, node._ctx, *map(_data_of, parents))
        for p, pg in zip(parents, grads, strict=True):
            if pg is None or not p.requires_grad:
                continue
            if type(pg) is not float or type(p._data) is not float:
                pg = _conform(pg, p._data, create_graph)
            if _ANOMALY:
                _check_finite(_raw(pg), f"the gradient of operation '{node._op}'")
            acc = p._acc
            p._acc = pg if acc is None else acc + pg


def _backprop_fast(order: list[Value]) -> None:
    """``_backprop_general`` on raw data, unrolled for the one- and two-input ops.

    Spelling out the two parents instead of zipping is about 2x faster on scalar
    graphs (the loop overhead is comparable to the arithmetic itself).
    """
    for node in reversed(order):
        rule = node._backward
        g = node._acc
        if rule is None or g is None:
            continue
        parents = node._parents
        if len(parents) == 2:
            a, b = parents
            ga, gb = rule(g, node._data, node._ctx, a._data, b._data)
            if ga is not None and a.requires_grad:
                if type(ga) is not float or type(a._data) is not float:
                    ga = _conform(ga, a._data, False)
                acc = a._acc
                a._acc = ga if acc is None else acc + ga
            if gb is not None and b.requires_grad:
                if type(gb) is not float or type(b._data) is not float:
                    gb = _conform(gb, b._data, False)
                acc = b._acc
                b._acc = gb if acc is None else acc + gb
        elif len(parents) == 1:
            (a,) = parents
            (ga,) = rule(g, node._data, node._ctx, a._data)
            if ga is not None and a.requires_grad:
                if type(ga) is not float or type(a._data) is not float:
                    ga = _conform(ga, a._data, False)
                acc = a._acc
                a._acc = ga if acc is None else acc + ga
        else:
            grads = rule(g, node._data, node._ctx, *map(_data_of, parents))
            for p, pg in zip(parents, grads, strict=True):
                if pg is not None and p.requires_grad:
                    if type(pg) is not float or type(p._data) is not float:
                        pg = _conform(pg, p._data, False)
                    acc = p._acc
                    p._acc = pg if acc is None else acc + pg


def _conform(pg: Any, pdata: Any, create_graph: bool) -> Any:
    """Make a gradient match its input: a float for a scalar, else its shape and dtype."""
    if type(pdata) is float:
        if isinstance(pg, Value):
            return pg if type(pg._data) is float else pg.sum()
        return pg if type(pg) is float else float(np.sum(pg))
    if type(pg) is float:
        return np.full(pdata.shape, pg, dtype=pdata.dtype)
    if pg.shape != pdata.shape:
        pg = _unbroadcast(pg, pdata.shape)
    if not create_graph and pg.dtype != pdata.dtype:
        pg = pg.astype(pdata.dtype)
    return pg


def grad(
    output: Value,
    inputs: Sequence[Value] | Value,
    grad_output: Any = None,
    create_graph: bool = False,
) -> list[Any]:
    """d(output)/d(input) for each input, without touching any ``.grad``.

    Like ``torch.autograd.grad``: with ``create_graph=True`` the results are
    Values that can be differentiated again (second derivatives, Hessian-vector
    products). An input the output does not depend on gets a zero gradient.
    """
    single = isinstance(inputs, Value)
    inputs = [inputs] if single else list(inputs)
    order = output._prepare(grad_output)
    seed = output._seed(grad_output, create_graph)
    try:
        _backprop(output, order, seed, create_graph)
        results = []
        for v in inputs:
            g = v._acc
            if g is None:
                g = 0.0 if type(v._data) is float else np.zeros_like(v._data)
                if create_graph:
                    g = Value(g, requires_grad=False)
            results.append(g)
    finally:
        for node in order:
            node._acc = None
    return results[0] if single else results
