"""Keras-style layers on the ``Value`` engine: ``Dense``, ``Dropout``, ``BatchNormalization``, ...

Every layer follows Keras' lifecycle:

* ``__init__`` validates the arguments (nothing is allocated yet);
* ``build(input_shape)`` creates the weights once the input width is known,
  as ``Value``s labelled ``'<layer name>/<weight name>'`` (``dense_1/kernel``);
* ``call(inputs, training=False)`` is the forward pass, a few lines of engine ops;
* ``__call__`` builds on first use and checks every later input's width;
* ``compute_output_shape`` and ``get_config`` let summaries, plots and saving
  work for every layer without special cases.

Shapes follow Keras: the batch dimension is ``None`` in shapes (``(None, 20)``).
Weights are float32 unless a layer is given another ``dtype``.

>>> layer = Dense(4, activation="relu", input_dim=3)
>>> layer.kernel.shape, layer.bias.shape
((3, 4), (4,))
"""

from __future__ import annotations

import inspect
import math
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import activations, constraints, initializers, regularizers
from tinygrad_mlp.engine import Value, _const, no_grad
from tinygrad_mlp.symbolic import KerasTensor, Node, any_symbolic, flatten, pack_like

__all__ = [
    "Layer",
    "InputLayer",
    "Input",
    "Dense",
    "Dropout",
    "BatchNormalization",
    "Activation",
    "Identity",
    "Flatten",
    "Reshape",
    "Rescaling",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "GaussianNoise",
    "GaussianDropout",
    "LayerNormalization",
    "Normalization",
    "Embedding",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Lambda",
    "get",
    "serialize",
    "deserialize",
    "clear_session",
]

Shape = tuple[int | None, ...]

# Keras gives every object a unique name per kind: dense, dense_1, dense_2, ...
_NAME_COUNTS: dict[str, int] = {}


def unique_name(base: str) -> str:
    """The next free Keras-style name for ``base``: ``base``, ``base_1``, ``base_2``, ..."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _layer_rng(seed: int | None) -> np.random.Generator:
    """A layer's own generator: from ``seed``, or drawn from NumPy's global state (so
    ``np.random.seed`` / ``utils.set_random_seed`` repeat dropout and noise masks)."""
    return np.random.default_rng(np.random.randint(0, 2**31 - 1) if seed is None else seed)


def clear_session() -> None:
    """Restart automatic naming (``dense``, ``sequential``, ...) like Keras' ``clear_session``."""
    _NAME_COUNTS.clear()


def _snake_case(name: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization`` (Keras' default layer names)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _shape_tuple(shape: Any, what: str) -> tuple[int, ...]:
    """A validated tuple of positive ints (an int means a 1-tuple)."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{what} must be a tuple of ints, received {shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{what} must contain positive sizes, received {shape!r}")
    return shape


def _penalty(value: Any, what: str) -> Value:
    """A regularizer's result as a single-element Value (plain numbers are wrapped)."""
    if type(value) is not Value:
        value = _const(np.asarray(value, dtype=np.float64))
    if value.size != 1:
        raise ValueError(
            f"{what} must return a single number (a 0-d Value), received shape {value.shape}"
        )
    return value


def _project(weight: Value, constraint: Any) -> None:
    """``weight.data[...] = constraint(weight.data)``, checking the shape is kept."""
    projected = np.asarray(constraint(weight.data))
    if projected.shape != weight.data.shape:
        raise ValueError(
            f"the constraint {constraint!r} of {weight.label!r} returned shape "
            f"{projected.shape}, expected the weight's shape {weight.data.shape}"
        )
    weight.data[...] = projected


# bumped whenever a layer's weights, trainable flag, regularizers or held layers change, so
# the trainer can keep what it derives from them (trainable weights, penalties) between fits
_STRUCTURE = [0]
_STRUCTURAL_NAMES = frozenset({"_trainable", "activity_regularizer", "built", "_tracked"})


def _structure_version() -> int:
    return _STRUCTURE[0]


def _structure_changed() -> None:
    _STRUCTURE[0] += 1


# while a file loads: how many more weight scalars the model may allocate (the file's stored
# arrays), so a forged config cannot make a layer allocate gigabytes before it is refused
_BUDGET = threading.local()


class weight_budget:  # noqa: N801 - used as a context manager, like no_grad
    """``with weight_budget(n, prefix):`` weights created inside may hold ``n`` scalars in all;
    a refusal is a ValueError starting with ``prefix``."""

    def __init__(self, scalars: int, where: str) -> None:
        self.scalars, self.where = int(scalars), where

    def __enter__(self) -> weight_budget:
        self.previous = getattr(_BUDGET, "value", None)
        _BUDGET.value = [self.scalars, self.where]
        return self

    def __exit__(self, *exc: Any) -> None:
        _BUDGET.value = self.previous


def _spend(shape: tuple[int, ...], what: str, keep: bool = True) -> None:
    """Refuse an allocation of ``shape`` over the budget of the file being loaded."""
    budget = getattr(_BUDGET, "value", None)
    if budget is None:
        return
    n = 1
    for d in shape:
        if not isinstance(d, (int, np.integer)) or d < 0:
            raise ValueError(f"{budget[1]}{what} has an invalid shape {shape}")
        n *= int(d)
    limit = budget[0] if keep else max(budget[0], 1 << 20)
    if n > limit:
        raise ValueError(
            f"{budget[1]}{what} of shape {shape} needs {n} numbers, more than the file's "
            f"stored weights ({budget[0]} numbers left); the config does not match its arrays"
        )
    if keep:
        budget[0] -= n


# the training flag of the enclosing layer call, per thread: a layer called without
# ``training=`` inside a subclassed model's ``call`` follows the model's flag
_CALL_CONTEXT = threading.local()


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in shape
    )


def _map_shapes(fn: Any, shapes: Any) -> Any:
    """Apply ``fn`` to every shape in a shape or a list/dict of shapes."""
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {key: _map_shapes(fn, shapes[key]) for key in sorted(shapes)}
    if isinstance(shapes, (list, tuple)):
        return [_map_shapes(fn, s) for s in shapes]
    raise ValueError(f"expected a shape such as (None, 3) or a list of shapes, received {shapes!r}")


def _batchless(shapes: Any) -> Any:
    """The same shape(s) with the batch dimension ``None``."""
    return _map_shapes(lambda s: (None,) + tuple(s[1:]), shapes)


def _extend_unique(out: list[Value], groups: list[list[Value]]) -> list[Value]:
    """``out`` followed by every weight of ``groups`` not already there (shared layers)."""
    if not groups:
        return out
    seen = {id(w) for w in out}
    for group in groups:
        for w in group:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


class _Weights(list):
    """A list of weights that prints as Keras' variables do (path, shape, dtype, values)."""

    def __repr__(self) -> str:
        return "[" + ", ".join(_variable_repr(w) for w in self) + "]"

    __str__ = __repr__

    def __getitem__(self, index: Any) -> Any:
        item = list.__getitem__(self, index)
        return _Weights(item) if isinstance(index, slice) else item


def _variable_repr(w: Any) -> str:
    if not isinstance(w, Value):
        return repr(w)
    return (
        f"<Variable path={w.label}, shape={tuple(w.data.shape)}, dtype={w.data.dtype}, "
        f"value={w.data}>"
    )


class Layer:
    """Base class: weights, naming, building, config and the call protocol.

    Subclasses implement ``build(input_shape)`` (calling ``add_weight``),
    ``call(inputs, training=False)`` and, when the shape changes,
    ``compute_output_shape``. ``input_shape``/``input_dim``/``batch_input_shape``
    may be given to the first layer of a model so it is built immediately.
    """

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = "float32",
        input_shape: Sequence[int] | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(kwargs)}"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string, received {name!r}")
        self.name = name if name is not None else unique_name(_snake_case(type(self).__name__))
        try:
            self.dtype = np.dtype(dtype if dtype is not None else "float32")
        except TypeError:
            raise TypeError(f"dtype must be a float dtype, received {dtype!r}") from None
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a float dtype, received {dtype!r}")
        self._batch_input_shape: Shape | None = None
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size,) + _shape_tuple(input_shape, "input_shape")
        elif input_dim is not None:
            if not isinstance(input_dim, (int, np.integer)) or input_dim <= 0:
                raise ValueError(f"input_dim must be a positive int, received {input_dim!r}")
            self._batch_input_shape = (batch_size, int(input_dim))
        self._trainable = bool(trainable)
        self._weights: list[Value] = []
        self._trainable_flags: list[bool] = []
        # per weight, parallel to _weights: a regularizer / a constraint or None
        self._weight_regularizers: list[Any] = []
        self._weight_constraints: list[Any] = []
        # Keras: every layer has a settable activity_regularizer, applied to its output
        self.activity_regularizer: Any = None
        self._activity_loss: Value | None = None
        self.built = False
        self._build_shape: Shape | None = None
        self._inbound_nodes: list[Node] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Keras passes ``training`` only to a ``call`` that takes it (or takes **kwargs)
        params = inspect.signature(cls.call).parameters
        cls._call_takes_training = "training" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )

    def __setattr__(self, name: str, value: Any) -> None:
        # layers held by a layer (a custom layer's parts, a subclassed model's layers) are
        # tracked as in Keras: their weights, losses and trainable flag become this layer's
        if (isinstance(value, Layer) and value is not self) or (
            type(value) in (list, tuple)
            and value
            and all(isinstance(v, Layer) for v in value)
            and all(v is not self for v in value)
        ):
            tracked = self.__dict__.setdefault("_tracked", {})
            tracked[name] = value
            _STRUCTURE[0] += 1
        elif "_tracked" in self.__dict__ and name in self.__dict__["_tracked"]:
            del self.__dict__["_tracked"][name]
            _STRUCTURE[0] += 1
        elif name in _STRUCTURAL_NAMES:
            _STRUCTURE[0] += 1
        object.__setattr__(self, name, value)

    def _sublayers(self) -> list[Layer]:
        """The layers this layer holds, each once, in the order they were assigned."""
        tracked = self.__dict__.get("_tracked")
        if not tracked:
            return []
        out: list[Layer] = []
        for value in tracked.values():
            for layer in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(layer, Layer) and all(layer is not x for x in out):
                    out.append(layer)
        return out

    # -- weights -----------------------------------------------------------------

    def add_weight(
        self,
        name: str,
        shape: Sequence[int],
        initializer: Any = "glorot_uniform",
        trainable: bool = True,
        dtype: Any = None,
        regularizer: Any = None,
        constraint: Any = None,
    ) -> Value:
        """Create a weight as a ``Value`` labelled ``'<layer name>/<name>'`` and track it.

        ``regularizer`` (``Value -> 0-d Value``) adds its penalty of the weight to
        ``losses``; ``constraint`` (``ndarray -> ndarray``) projects the weight after
        every optimizer step in ``fit``.
        """
        init = initializers.get(initializer)
        regularizer = regularizers.get(regularizer)
        constraint = constraints.get(constraint)
        _spend(tuple(shape), f"weight {self.name}/{name}")
        data = np.asarray(init(tuple(shape), dtype=str(np.dtype(dtype or self.dtype))))
        data = data.astype(dtype or self.dtype, copy=False)
        if data.shape != tuple(shape):
            raise ValueError(
                f"initializer for {self.name}/{name} returned shape {data.shape}, "
                f"expected {tuple(shape)}"
            )
        if not data.flags.writeable or not data.flags.owndata:
            data = data.copy()
        weight = Value(
            data, requires_grad=trainable and self._trainable, label=f"{self.name}/{name}"
        )
        self._weights.append(weight)
        _structure_changed()
        self._trainable_flags.append(bool(trainable))
        self._weight_regularizers.append(regularizer)
        self._weight_constraints.append(constraint)
        return weight

    @property
    def trainable(self) -> bool:
        """False freezes the layer: its weights get no gradient and the optimizer skips them."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for w, flag in zip(self._weights, self._trainable_flags, strict=True):
            w.requires_grad = flag and self._trainable
        for layer in self._sublayers():
            layer.trainable = value

    def _own_weights(self, trainable: bool) -> list[Value]:
        if not self._trainable:
            return [] if trainable else list(self._weights)
        return [
            w
            for w, flag in zip(self._weights, self._trainable_flags, strict=True)
            if flag is trainable
        ]

    @property
    def trainable_weights(self) -> list[Value]:
        """The weights the optimizer updates: this layer's, then each held layer's."""
        out = self._own_weights(True)
        if not self._trainable:
            return out
        return _extend_unique(out, [layer.trainable_weights for layer in self._sublayers()])

    @property
    def non_trainable_weights(self) -> list[Value]:
        out = self._own_weights(False)
        return _extend_unique(out, [
            layer.weights if not self._trainable else layer.non_trainable_weights
            for layer in self._sublayers()
        ])  # fmt: skip

    @property
    def weights(self) -> list[Value]:
        """This layer's trainable then non-trainable weights, then each held layer's (Keras')."""
        out = self._own_weights(True) + self._own_weights(False)
        return _Weights(_extend_unique(out, [layer.weights for layer in self._sublayers()]))

    # -- regularization ----------------------------------------------------------

    @property
    def losses(self) -> list[Value]:
        """The layer's regularization penalties as 0-d Values (Keras' ``layer.losses``).

        One per regularized trainable weight, ``regularizer(weight)`` computed from
        the current weights (part of the graph when gradients are enabled), then
        the activity penalty ``activity_regularizer(outputs) / batch_size`` of the
        layer's last call.
        """
        penalties: list[Value] = []
        if self._trainable:
            for w, flag, reg in zip(
                self._weights, self._trainable_flags, self._weight_regularizers, strict=True
            ):
                if reg is not None and flag:
                    penalties.append(_penalty(reg(w), f"{self.name}/regularizer"))
        if self._activity_loss is not None:
            penalties.append(self._activity_loss)
        for layer in self._sublayers():
            penalties.extend(layer.losses)
        return penalties

    def _has_penalties(self) -> bool:
        """True when ``losses`` can be non-empty (so training must add them to the loss)."""
        return (
            self.activity_regularizer is not None
            or any(r is not None for r in self._weight_regularizers)
            or any(layer._has_penalties() for layer in self._sublayers())
        )

    def _constrained_weights(self) -> list[tuple[Value, Any]]:
        """``(weight, constraint)`` for every trainable weight that has a constraint."""
        if not self._trainable:
            return []
        pairs = [
            (w, c)
            for w, flag, c in zip(
                self._weights, self._trainable_flags, self._weight_constraints, strict=True
            )
            if c is not None and flag
        ]
        for layer in self._sublayers():
            pairs.extend(layer._constrained_weights())
        return pairs

    def _apply_constraints(self) -> None:
        """Project every constrained trainable weight in place (after an optimizer step)."""
        for w, c in self._constrained_weights():
            _project(w, c)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights' arrays, in ``weights`` order."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Overwrite the weights in place from arrays of the same shapes (``weights`` order)."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer {self.name!r} expects {len(own)} weight arrays "
                f"({[tuple(w.shape) for w in own]}), received {len(weights)}"
            )
        arrays = []
        for w, new in zip(own, weights, strict=True):
            new = np.asarray(new)
            if new.shape != w.data.shape:
                raise ValueError(
                    f"Layer {self.name!r} weight {w.label!r} has shape {w.data.shape}, "
                    f"received an array of shape {new.shape}"
                )
            if new.dtype.kind not in "biuf":
                raise TypeError(f"weights must be numeric arrays, received dtype {new.dtype}")
            arrays.append(new)
        for w, new in zip(own, arrays, strict=True):
            w.data[...] = new

    def count_params(self) -> int:
        """The number of scalars in all the layer's weights."""
        if not self.built:
            raise ValueError(
                f"You tried to call count_params on layer {self.name!r}, but the layer "
                "isn't built. Build it first with layer.build(input_shape)."
            )
        return int(sum(w.data.size for w in self.weights))

    # -- building and calling ----------------------------------------------------

    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension first)."""
        self._build_shape = input_shape
        self.built = True

    def _maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            shape = _batchless(input_shape)
            self.build(shape)
            self._build_shape = shape
            self.built = True

    def call(self, inputs: Value, training: bool = False) -> Value:
        """The forward pass (identity in the base class)."""
        return inputs

    def __call__(self, inputs: Any, *args: Any, training: bool | None = None, **kwargs: Any) -> Any:
        """Build on first use, check the input width, then ``call``.

        On symbolic ``KerasTensor`` inputs (the functional API) nothing is
        computed: the call is recorded as a ``Node`` and symbolic outputs of the
        computed shapes are returned. ``training=None`` takes the value of the
        enclosing model's call (so a subclassed model's layers follow ``fit``).
        """
        if training is None:
            training = getattr(_CALL_CONTEXT, "training", None)
        if type(inputs) is not Value or args or kwargs:
            return self._call_structure(inputs, args, training, kwargs)
        if not self.built:
            if inputs.ndim == 0:
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) expects inputs with a batch "
                    f"dimension, received a scalar"
                )
            self._maybe_build(inputs.shape)
        else:
            self._check_input_shape(inputs.shape)
        if "_tracked" in self.__dict__ or not self._call_takes_training or training is None:
            return self._run_call(inputs, (), training, {})
        outputs = self.call(inputs, training=training)  # the common case, kept short
        if self.activity_regularizer is not None:
            self._record_activity_loss(outputs)
        return outputs

    def _run_call(self, inputs: Any, args: tuple, training: Any, kwargs: dict) -> Any:
        if training is not None and self._call_takes_training:
            kwargs = dict(kwargs, training=training)
        if "_tracked" in self.__dict__:  # held layers called without training= follow ours
            previous = getattr(_CALL_CONTEXT, "training", None)
            _CALL_CONTEXT.training = training if training is not None else previous
            try:
                outputs = self.call(inputs, *args, **kwargs)
            finally:
                _CALL_CONTEXT.training = previous
        else:
            outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            self._record_activity_loss(outputs)
        return outputs

    def _call_structure(self, inputs: Any, args: tuple, training: Any, kwargs: dict) -> Any:
        """``__call__`` on a list/dict of inputs, on arrays, or on symbolic tensors."""
        if any_symbolic(inputs) or any(any_symbolic(a) for a in args):
            return self._symbolic_call(inputs, args, training, kwargs)
        leaves = [
            x if type(x) is Value else _const(np.asarray(x, dtype=self.dtype))
            for x in flatten(inputs)
        ]
        inputs = pack_like(inputs, leaves)
        if not self.built:
            if any(v.ndim == 0 for v in leaves):
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) expects inputs with a batch "
                    f"dimension, received a scalar"
                )
            self._maybe_build(pack_like(inputs, [v.shape for v in leaves]))
        elif type(inputs) is Value:
            self._check_input_shape(inputs.shape)
        return self._run_call(inputs, args, training, kwargs)

    def _symbolic_call(self, inputs: Any, args: tuple, training: Any, kwargs: dict) -> Any:
        """Record this call in the graph; return KerasTensors of the output shapes."""
        for leaf in flatten(inputs):
            if not isinstance(leaf, KerasTensor):
                raise TypeError(
                    f"Layer {self.name!r} was called on a mix of symbolic tensors (from Input) "
                    f"and {type(leaf).__name__}; in the functional API every input of a layer "
                    "must come from Input() or from another layer"
                )
        shapes = pack_like(inputs, [t.shape for t in flatten(inputs)])
        if not self.built:
            self._maybe_build(shapes)
        elif isinstance(inputs, KerasTensor):
            self._check_input_shape(inputs.shape)
        out_shapes = self.compute_output_shape(shapes)
        outputs = _map_shapes(
            lambda shape: KerasTensor(shape, self.dtype, name=unique_name("keras_tensor")),
            out_shapes,
        )
        if training is not None:
            kwargs = dict(kwargs, training=training)
        Node(self, inputs if not args else [inputs, *args], outputs, kwargs)
        return outputs

    def _record_activity_loss(self, outputs: Value) -> None:
        """Keep ``activity_regularizer(outputs) / batch_size`` for ``losses`` (as Keras)."""
        penalty = _penalty(self.activity_regularizer(outputs), f"{self.name}/activity_regularizer")
        batch = outputs.shape[0] if outputs.ndim else 1
        self._activity_loss = penalty / float(batch) if batch else penalty

    def _check_input_shape(self, shape: tuple[int, ...]) -> None:
        expected = self._build_shape
        if type(expected) is not tuple or len(expected) < 2:  # unbuilt, or several inputs
            return
        if len(shape) != len(expected) or shape[-1] != expected[-1]:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} expects inputs with last dimension "
                f"{expected[-1]} (shape {expected}), received shape {tuple(shape)}"
            )

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for ``input_shape``; the base class finds it by running ``call``
        once on zeros (batch of 1) in inference mode, so custom layers need not say it."""
        self._maybe_build(input_shape)

        def zeros(shape: tuple) -> Value:
            sized = tuple(1 if d is None else d for d in shape)
            _spend(sized, f"the input of layer {self.name!r}", keep=False)
            return _const(np.zeros(sized, self.dtype))

        dummy = _map_shapes(zeros, input_shape)
        with no_grad():
            saved = self._activity_loss
            out = self._run_call(dummy, (), False, {})
            self._activity_loss = saved
        return pack_like(out, [(None,) + tuple(v.shape[1:]) for v in flatten(out)])

    @property
    def input_shape(self) -> Any:
        """The (batch-first) input shape the layer was built for."""
        if self._build_shape is not None:
            return self._build_shape
        if self._batch_input_shape is not None:
            return self._batch_input_shape
        raise AttributeError(
            f"The layer {self.name!r} has never been called and thus has no defined input shape."
        )

    @property
    def output_shape(self) -> Any:
        """The (batch-first) output shape, from ``compute_output_shape``."""
        return self.compute_output_shape(self.input_shape)

    def _node_attribute(self, attribute: str, what: str) -> Any:
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer {self.name!r} has never been called on a symbolic input (Input(...)), "
                f"so it has no defined {what}; build a functional model first"
            )
        return getattr(self._inbound_nodes[0], attribute)

    @property
    def input(self) -> Any:
        """The symbolic tensor(s) of the layer's first call in a graph (Keras' ``layer.input``)."""
        return self._node_attribute("arguments", "input")

    @property
    def output(self) -> Any:
        """The symbolic tensor(s) the layer's first call in a graph produced."""
        return self._node_attribute("outputs", "output")

    # -- config ------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """A JSON-able dict from which ``from_config`` rebuilds an equal (unbuilt) layer."""
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": str(self.dtype),
        }
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Rebuild a layer from ``get_config()``'s output.

        Serialized initializers, regularizers and constraints need no step here:
        the constructor passes each through its module's ``get``, which takes configs.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


Layer._call_takes_training = True


class InputLayer(Layer):
    """A model's entry point: holds the symbolic tensor ``Input`` returns.

    ``Sequential`` takes it as its first entry to know its input width (and does
    not list it in ``layers``); a functional ``Model`` lists it first.
    """

    def __init__(
        self,
        input_shape: Sequence[int] | None = None,
        batch_size: int | None = None,
        dtype: Any = "float32",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        shape = kwargs.pop("shape", None)
        batch_shape = kwargs.pop("batch_shape", None)
        if batch_shape is not None:
            kwargs["batch_input_shape"] = batch_shape
        kwargs.pop("sparse", None), kwargs.pop("ragged", None), kwargs.pop("optional", None)
        if input_shape is None:
            input_shape = shape
        if input_shape is None and "batch_input_shape" not in kwargs:
            raise ValueError("InputLayer needs an input_shape (e.g. InputLayer((10,)))")
        if name is None:
            name = unique_name("input_layer")
        super().__init__(
            name=name, dtype=dtype, input_shape=input_shape, batch_size=batch_size, **kwargs
        )
        self.build(self._batch_input_shape)
        tensor = KerasTensor(self._batch_input_shape, self.dtype, name=self.name)
        Node(self, [], tensor, {})

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(self._batch_input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": str(self.dtype),
            "batch_input_shape": list(self._batch_input_shape),
        }


def Input(  # noqa: N802 - Keras' name
    shape: Sequence[int] | None = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: Any = "float32",
    batch_shape: Sequence[int | None] | None = None,
    **kwargs: Any,
) -> KerasTensor:
    """A symbolic input of ``shape`` (no batch dimension), as ``keras.Input``.

    Call layers on it to build a functional ``Model(inputs, outputs)``, or put it
    first in a ``Sequential`` to declare the input width.
    """
    kwargs.pop("sparse", None), kwargs.pop("ragged", None), kwargs.pop("optional", None)
    if kwargs:
        raise TypeError(f"Input() got unexpected keyword argument(s) {sorted(kwargs)}")
    if shape is None and batch_shape is None:
        raise ValueError("Input() needs a shape, e.g. Input(shape=(10,))")
    layer = InputLayer(
        input_shape=shape,
        batch_size=batch_size,
        name=name,
        dtype=dtype,
        **({"batch_input_shape": tuple(batch_shape)} if batch_shape is not None else {}),
    )
    return layer.output


# kernels up to this many entries are copied transposed before g @ kernel^T: OpenBLAS's
# transposed-operand path runs 2x (4x for 10 columns) slower on them; above it, the copy costs
# more than it saves (measured on 64-128-64-10 and 784-512-256-10, benchmarks/train.py)
_COPY_TRANSPOSED_MAX = 1 << 15


def _times_transposed(g: np.ndarray, kernel: np.ndarray, out: np.ndarray | None = None) -> Any:
    """``g @ kernel^T`` (2-D arrays): the input gradient of a dense layer. The eager rule and
    the replayed step (replay.py) both call this, so both compute the same bits."""
    if kernel.size <= _COPY_TRANSPOSED_MAX:
        return np.dot(g, np.ascontiguousarray(kernel.T), out=out)
    return np.dot(g, kernel.T, out=out)


def _dense_bw(g, out, ctx, x, kernel, bias=None):
    """For z = x @ W + b: dx = g @ W^T, dW = x^T @ g, db = sum of g over the batch."""
    need_x, need_kernel = ctx
    if type(g) is np.ndarray and type(x) is np.ndarray:  # np.dot: 2-D products, less overhead
        gx = _times_transposed(g, kernel) if need_x else None
        gk = np.dot(x.T, g) if need_kernel else None
    else:  # create_graph: the products are recorded
        gx = g @ kernel.T if need_x else None
        gk = x.T @ g if need_kernel else None
    if bias is None:
        return gx, gk
    return gx, gk, g.sum(axis=0)


class Dense(Layer):
    """A fully connected layer: ``output = activation(inputs @ kernel + bias)``.

    ``kernel`` has shape ``(input_dim, units)`` and ``bias`` shape ``(units,)``:
    the neuron ``a_j = g(b_j + sum_k a_k w_kj)`` for every unit ``j`` at once.
    Inputs ``(batch, input_dim)`` give outputs ``(batch, units)``.

    ``kernel_regularizer``/``bias_regularizer`` (``'l2'``, ``L1(0.01)``, a callable)
    add ``penalty(weight)`` to the training loss, ``activity_regularizer`` adds
    ``penalty(outputs) / batch_size``; ``layer.losses`` lists them.
    ``kernel_constraint``/``bias_constraint`` (``'max_norm'``, ``NonNeg()``, ...)
    project the weights after every optimizer step.

    >>> Dense(4, input_dim=3, kernel_regularizer="l2").losses[0].shape
    ()
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense units must be a positive int, received {units!r}")
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.kernel: Value | None = None
        self.bias: Value | None = None
        if self._batch_input_shape is not None:
            self._maybe_build(self._batch_input_shape)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Dense layer {self.name!r} needs inputs of shape (batch, features), "
                f"received shape {tuple(input_shape)}"
            )
        input_dim = int(input_shape[-1])
        self.kernel = self.add_weight(
            "kernel",
            (input_dim, self.units),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (self.units,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        super().build(input_shape)

    def call_linear(self, inputs: Value) -> Value:
        """The pre-activation ``z = inputs @ kernel + bias``, shape ``(batch, units)``.

        For 2-D inputs this is one graph node (op ``'dense'``) rather than ``@``
        then ``+``: half the bookkeeping per layer, and the bias gradient is a
        plain column sum instead of an un-broadcast.
        """
        kernel = self.kernel
        if inputs.ndim != 2:
            z = inputs @ kernel
            return z + self.bias if self.use_bias else z
        x = inputs.data
        if x.shape[1] != kernel.data.shape[0]:
            self._check_input_shape(x.shape)
        data = np.dot(x, kernel.data)  # the replayed step (replay.py) makes the same call
        ctx = (inputs.requires_grad, kernel.requires_grad)
        if self.use_bias:
            data += self.bias.data
            return Value._make(data, (inputs, kernel, self.bias), "dense", _dense_bw, ctx)
        return Value._make(data, (inputs, kernel), "dense", _dense_bw, ctx)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return self.activation(self.call_linear(inputs))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            activity_regularizer=regularizers.serialize(self.activity_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
        )
        return config


class Dropout(Layer):
    """Inverted dropout: in training each input is zeroed with probability ``rate``
    and the survivors are scaled by ``1 / (1 - rate)``; in inference it is the identity.

    The expected output equals the input either way, so no rescaling is needed
    at prediction time. ``seed`` makes the masks reproducible.
    """

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)):
            raise TypeError(f"Dropout rate must be a float in [0, 1), received {rate!r}")
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout rate must be a float in [0, 1), received {rate!r}")
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = _layer_rng(seed)

    def call(self, inputs: Value, training: bool = False) -> Value:
        if not training or self.rate == 0.0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(
                s if n is None else n for s, n in zip(shape, self.noise_shape, strict=True)
            )
        keep = self._rng.random(shape, dtype=np.float32) >= self.rate
        mask = keep.astype(inputs.dtype) * inputs.dtype.type(1.0 / (1.0 - self.rate))
        return inputs * mask

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            rate=self.rate,
            noise_shape=None if self.noise_shape is None else list(self.noise_shape),
            seed=self.seed,
        )
        return config


class BatchNormalization(Layer):
    """Normalise each feature: ``gamma * (x - mean) / sqrt(var + epsilon) + beta``.

    In training ``mean``/``var`` are the batch's (biased) statistics and the
    moving averages move towards them:
    ``moving = moving * momentum + batch * (1 - momentum)``.
    In inference (and when ``trainable`` is False, as in Keras) the moving
    averages are used. ``gamma``/``beta`` are trainable; ``moving_mean`` and
    ``moving_variance`` are non-trainable weights (saved, never optimised).
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        **kwargs: Any,
    ) -> None:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"BatchNormalization axis must be an int, received {axis!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], received {momentum!r}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"epsilon must be positive, received {epsilon!r}")
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.gamma = self.beta = None
        if self._batch_input_shape is not None:
            self._maybe_build(self._batch_input_shape)

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"BatchNormalization axis {self.axis} is out of range for inputs of shape "
                f"{tuple(input_shape)}"
            )
        self._axis = self.axis % ndim
        if self._axis == 0 or input_shape[self._axis] is None:
            raise ValueError(
                f"BatchNormalization axis {self.axis} must name a feature axis of known size, "
                f"received input shape {tuple(input_shape)}"
            )
        n = int(input_shape[self._axis])
        if self.scale:
            self.gamma = self.add_weight("gamma", (n,), self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", (n,), self.beta_initializer)
        self.moving_mean = self.add_weight(
            "moving_mean", (n,), self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", (n,), self.moving_variance_initializer, trainable=False
        )
        self._reduce = tuple(i for i in range(ndim) if i != self._axis)
        self._param_shape = tuple(n if i == self._axis else 1 for i in range(ndim))
        super().build(input_shape)

    def _check_input_shape(self, shape: tuple[int, ...]) -> None:
        expected = self._build_shape
        if len(shape) != len(expected) or shape[self._axis] != expected[self._axis]:
            raise ValueError(
                f"BatchNormalization layer {self.name!r} expects inputs of shape {expected}, "
                f"received shape {tuple(shape)}"
            )

    def _param(self, w: Value) -> Value:
        return w if self._axis == len(self._param_shape) - 1 else w.reshape(self._param_shape)

    def call(self, inputs: Value, training: bool = False) -> Value:
        if training and self.trainable:
            mean = inputs.mean(axis=self._reduce, keepdims=True)
            centred = inputs - mean
            var = (centred * centred).mean(axis=self._reduce, keepdims=True)
            m = self.momentum
            # the moving statistics are state, not part of the graph
            self.moving_mean.data *= m
            self.moving_mean.data += (1.0 - m) * mean.data.reshape(-1)
            self.moving_variance.data *= m
            self.moving_variance.data += (1.0 - m) * var.data.reshape(-1)
            normed = centred * (var + self.epsilon) ** -0.5
        else:
            mean = self.moving_mean.data.reshape(self._param_shape)
            inv = (self.moving_variance.data.reshape(self._param_shape) + self.epsilon) ** -0.5
            normed = (inputs - mean.astype(inputs.dtype)) * inv.astype(inputs.dtype)
        if self.scale:
            normed = normed * self._param(self.gamma)
        if self.center:
            normed = normed + self._param(self.beta)
        return normed

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=initializers.serialize(self.moving_variance_initializer),
        )
        return config


class Activation(Layer):
    """Applies an activation function elementwise: ``output = activation(inputs)``."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Identity(Layer):
    """Returns its input unchanged (a placeholder, as in Keras)."""


class Flatten(Layer):
    """Flattens every axis but the batch one: (batch, a, b, ...) -> (batch, a * b * ...)."""

    def _check_input_shape(self, shape: tuple[int, ...]) -> None:
        expected = self._build_shape
        if expected is not None and tuple(shape[1:]) != tuple(expected[1:]):
            raise ValueError(
                f"Flatten layer {self.name!r} was built for inputs of shape {expected}, "
                f"received shape {tuple(shape)}"
            )

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        size = None if any(n is None for n in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)


class Reshape(Layer):
    """Reshapes every sample to ``target_shape`` (one entry may be -1), keeping the batch axis."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        target = tuple(int(n) for n in target_shape)
        if sum(n == -1 for n in target) > 1 or any(n < -1 or n == 0 for n in target):
            raise ValueError(
                "Reshape target_shape takes positive sizes and at most one -1, "
                f"received {target_shape!r}"
            )
        super().__init__(**kwargs)
        self.target_shape = target

    _check_input_shape = Flatten._check_input_shape

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs.reshape((inputs.shape[0],) + self._resolved(inputs.shape))

    def _resolved(self, input_shape: Shape) -> tuple[int, ...]:
        size = int(np.prod(input_shape[1:], dtype=np.int64))
        known = int(np.prod([n for n in self.target_shape if n != -1], dtype=np.int64))
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(
                    f"cannot reshape {tuple(input_shape[1:])} into {self.target_shape}"
                )
            return tuple(size // known if n == -1 else n for n in self.target_shape)
        if known != size:
            raise ValueError(
                f"Reshape layer {self.name!r}: {size} values per sample (shape "
                f"{tuple(input_shape[1:])}) cannot be reshaped to {self.target_shape}"
            )
        return self.target_shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(n is None for n in input_shape[1:]):
            return (input_shape[0],) + self.target_shape
        return (input_shape[0],) + self._resolved(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Rescaling(Layer):
    """``inputs * scale + offset``, e.g. ``Rescaling(1 / 255)`` for pixel values."""

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs * self.scale + self.offset

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class ReLU(Layer):
    """``max(x, 0)`` with Keras' options: ``negative_slope`` below ``threshold``, capped at
    ``max_value``: f(x) = max_value for x >= max_value, x for threshold <= x < max_value,
    negative_slope * (x - threshold) otherwise."""

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of a ReLU layer must be >= 0, received {max_value}")
        if negative_slope < 0:
            raise ValueError(
                f"negative_slope of a ReLU layer must be >= 0, received {negative_slope}"
            )
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def call(self, inputs: Value, training: bool = False) -> Value:
        from tinygrad_mlp.ops import where

        x = inputs
        above = x.data >= self.threshold
        out = where(above, x, (x - self.threshold) * self.negative_slope) if (
            self.negative_slope or self.threshold) else x.relu()  # fmt: skip
        if self.max_value is not None:
            out = out.clip(max=self.max_value)
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}  # fmt: skip


class LeakyReLU(Layer):
    """``x`` for x > 0, ``negative_slope * x`` otherwise (Keras' default slope 0.3)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if negative_slope < 0:
            raise ValueError(f"negative_slope must be >= 0, received {negative_slope}")
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs.leaky_relu(self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """A leaky ReLU whose slopes are learnt: ``max(x, 0) - alpha * max(-x, 0)``, one alpha per
    input element (or shared along ``shared_axes``), zeros at first."""

    def __init__(
        self,
        alpha_initializer: Any = "zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: Sequence[int] | int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            self.shared_axes = (
                (shared_axes,) if isinstance(shared_axes, int) else tuple(shared_axes)
            )

    def build(self, input_shape: Shape) -> None:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            shape[axis - 1] = 1
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)  # fmt: skip
        super().build(input_shape)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs.relu() - self.alpha * (-inputs).relu()

    def get_config(self) -> dict[str, Any]:
        shared = None if self.shared_axes is None else list(self.shared_axes)
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
            "alpha_constraint": constraints.serialize(self.alpha_constraint),
            "shared_axes": shared,
        }


class ELU(Layer):
    """``x`` for x > 0, ``alpha (e^x - 1)`` otherwise."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs.elu(self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """``e^x / sum e^x`` along ``axis`` (max-shifted, no overflow)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs: Value, training: bool = False) -> Value:
        return inputs.softmax(self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class GaussianNoise(Layer):
    """In training adds N(0, stddev^2) noise to every input (a regulariser); else the identity."""

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        if not stddev >= 0:
            raise ValueError(f"stddev must be >= 0, received {stddev!r}")
        super().__init__(**kwargs)
        self.stddev, self.seed = float(stddev), seed
        self._rng = _layer_rng(seed)

    def call(self, inputs: Value, training: bool = False) -> Value:
        if not training or self.stddev == 0:
            return inputs
        noise = self._rng.normal(0.0, self.stddev, inputs.shape).astype(inputs.dtype)
        return inputs + noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """In training multiplies every input by N(1, rate / (1 - rate)) noise; else the identity."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        if not 0 <= rate < 1:
            raise ValueError(f"GaussianDropout rate must be in [0, 1), received {rate!r}")
        super().__init__(**kwargs)
        self.rate, self.seed = float(rate), seed
        self._rng = _layer_rng(seed)

    def call(self, inputs: Value, training: bool = False) -> Value:
        if not training or self.rate == 0:
            return inputs
        std = math.sqrt(self.rate / (1.0 - self.rate))
        return inputs * self._rng.normal(1.0, std, inputs.shape).astype(inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class LayerNormalization(Layer):
    """Normalises each sample over ``axis``: ``gamma (x - mean) / sqrt(var + epsilon) + beta``."""

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        self._axes = tuple(a % ndim for a in self.axis)
        shape = tuple(input_shape[a] for a in self._axes)
        self._param_shape = tuple(input_shape[a] if a in self._axes else 1 for a in range(ndim))
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", shape, self.gamma_initializer,
                regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
            )  # fmt: skip
        if self.center:
            self.beta = self.add_weight(
                "beta", shape, self.beta_initializer,
                regularizer=self.beta_regularizer, constraint=self.beta_constraint,
            )  # fmt: skip
        super().build(input_shape)

    def call(self, inputs: Value, training: bool = False) -> Value:
        mean = inputs.mean(axis=self._axes, keepdims=True)
        centred = inputs - mean
        variance = (centred * centred).mean(axis=self._axes, keepdims=True)
        out = centred * (variance + self.epsilon) ** -0.5
        shape = self._param_shape[1:]
        if self.gamma is not None:
            out = out * self.gamma.reshape(shape)
        if self.beta is not None:
            out = out + self.beta.reshape(shape)
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": list(self.axis), "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}  # fmt: skip


class Normalization(Layer):
    """Standardises each feature: ``(x - mean) / max(sqrt(variance), 1e-7)``.

    The mean and variance come from ``adapt(data)`` (or are given); they are
    weights that do not train. ``invert=True`` undoes the normalisation.
    """

    def __init__(
        self,
        axis: int | None = -1,
        mean: Any = None,
        variance: Any = None,
        invert: bool = False,
        **kwargs: Any,
    ) -> None:
        if (mean is None) != (variance is None):
            raise ValueError("Normalization takes both mean and variance, or neither (then adapt)")
        super().__init__(**kwargs)
        self.axis, self.invert = axis, bool(invert)
        self._given = (
            None
            if mean is None
            else (np.asarray(mean, np.float64), np.asarray(variance, np.float64))
        )
        self.adapted = mean is not None

    def build(self, input_shape: Shape) -> None:
        n = input_shape[-1] if self.axis is not None else 1
        if self._given is not None:  # constants, as Keras keeps them: no weights to count
            self._mean = np.broadcast_to(self._given[0], (n,)).astype(self.dtype)
            self._variance = np.broadcast_to(self._given[1], (n,)).astype(self.dtype)
        else:  # Keras' three non-trainable weights: mean, variance and the sample count
            self.mean = self.add_weight("mean", (n,), "zeros", trainable=False)
            self.variance = self.add_weight("variance", (n,), "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)
        super().build(input_shape)

    def adapt(self, data: Any) -> None:
        """Compute the mean and variance of each feature of ``data`` (samples first)."""
        if self._given is not None:
            raise ValueError("this Normalization was given its mean and variance: nothing to adapt")
        x = np.asarray(data, dtype=np.float64)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"adapt needs data of shape (samples, features), received {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("adapt received data with NaN or inf")
        if not self.built:
            self._maybe_build(x.shape)
        axes = tuple(range(x.ndim - 1)) if self.axis is not None else None
        self.mean.data = np.asarray(x.mean(axis=axes), dtype=self.dtype).reshape(-1)
        self.variance.data = np.asarray(x.var(axis=axes), dtype=self.dtype).reshape(-1)
        self.count.data = np.asarray(x.size // max(self.mean.data.size, 1), dtype=self.dtype)
        self.adapted = True

    def _statistics(self) -> tuple[np.ndarray, np.ndarray]:
        if self._given is not None:
            return self._mean, self._variance
        return self.mean.data, self.variance.data

    def call(self, inputs: Value, training: bool = False) -> Value:
        mean, variance = self._statistics()
        std = np.maximum(np.sqrt(variance), 1e-7).astype(self.dtype)
        if self.invert:
            return inputs * std + mean
        return (inputs - mean) * (1.0 / std)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "axis": self.axis, "invert": self.invert}
        if self._given is not None:
            config.update(mean=self._given[0].tolist(), variance=self._given[1].tolist())
        return config


class Embedding(Layer):
    """A lookup table: integer inputs ``i`` become rows ``embeddings[i]`` (output_dim wide)."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        if (
            not isinstance(input_dim, int)
            or input_dim < 1
            or not isinstance(output_dim, int)
            or output_dim < 1
        ):
            raise ValueError(
                f"Embedding needs positive integer input_dim and output_dim, received "
                f"{input_dim!r} and {output_dim!r}"
            )
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)

    def build(self, input_shape: Shape) -> None:
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
            self.embeddings_initializer, regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint)  # fmt: skip
        super().build(input_shape)

    _check_input_shape = Flatten._check_input_shape

    def call(self, inputs: Value, training: bool = False) -> Value:
        raw = np.asarray(inputs.data)
        index = raw.astype(np.int64)
        if (index != raw).any() or (index < 0).any() or (index >= self.input_dim).any():
            bad = raw[(index != raw) | (index < 0) | (index >= self.input_dim)].reshape(-1)[0]
            raise ValueError(
                f"Embedding layer {self.name!r} takes integer indices in [0, {self.input_dim}), "
                f"received {bad!r}"
            )
        return self.embeddings[index]

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                }  # fmt: skip


class _Merge(Layer):
    """Base of the merge layers: called on a list of tensors of compatible shapes."""

    _min_inputs = 2
    _max_inputs: int | None = None

    def _check_shapes(self, input_shape: Any) -> list[Shape]:
        if not isinstance(input_shape, (list, tuple)) or not all(_is_shape(s) for s in input_shape):
            raise ValueError(
                f"A {type(self).__name__} layer should be called on a list of inputs, received "
                f"input_shape={input_shape!r}"
            )
        count = len(input_shape)
        if count < self._min_inputs or (self._max_inputs is not None and count > self._max_inputs):
            wanted = (
                f"exactly {self._min_inputs}"
                if self._max_inputs == self._min_inputs
                else f"at least {self._min_inputs}"
            )
            raise ValueError(
                f"A {type(self).__name__} layer should be called on {wanted} inputs, received "
                f"{count} inputs"
            )
        return [tuple(s) for s in input_shape]

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)  # the shapes are checked before building
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._check_shapes(input_shape)
        try:
            tail = np.broadcast_shapes(
                *[tuple(1 if d is None else d for d in s[1:]) for s in shapes]
            )
        except ValueError:
            raise ValueError(
                f"Inputs of a {type(self).__name__} layer must have the same shape (or shapes "
                f"that broadcast), received shapes {shapes}"
            ) from None
        return (None,) + tuple(tail)

    def _check_input_shape(self, shape: tuple[int, ...]) -> None:
        return None

    def call(self, inputs: Any, training: bool = False) -> Value:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A {type(self).__name__} layer should be called on a list of inputs, received "
                f"{type(inputs).__name__}"
            )
        self._check_shapes([tuple(v.shape) for v in inputs])
        return self._merge(list(inputs))

    @staticmethod
    def _pair(a: Value, b: Value) -> Value:
        return a + b

    def _merge(self, inputs: list[Value]) -> Value:
        """``pair`` folded over the inputs from the left: ``pair(pair(x1, x2), x3)...``."""
        out = inputs[0]
        for x in inputs[1:]:
            out = self._pair(out, x)
        return out


class Add(_Merge):
    """The elementwise sum of its inputs."""


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    _max_inputs = 2

    @staticmethod
    def _pair(a: Value, b: Value) -> Value:
        return a - b


class Multiply(_Merge):
    """The elementwise product of its inputs."""

    @staticmethod
    def _pair(a: Value, b: Value) -> Value:
        return a * b


class Average(_Merge):
    """The elementwise mean of its inputs: ``(x1 + ... + xn) / n``."""

    def _merge(self, inputs: list[Value]) -> Value:
        return super()._merge(inputs) / float(len(inputs))


class Maximum(_Merge):
    """The elementwise maximum (ties share the gradient equally, as PyTorch)."""

    @staticmethod
    def _pair(a: Value, b: Value) -> Value:
        from tinygrad_mlp.numpy_ops import maximum

        return maximum(a, b)


class Minimum(_Merge):
    """The elementwise minimum."""

    @staticmethod
    def _pair(a: Value, b: Value) -> Value:
        from tinygrad_mlp.numpy_ops import minimum

        return minimum(a, b)


class Concatenate(_Merge):
    """Joins its inputs along ``axis`` (the features by default); the other sides must agree."""

    _min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int, received {axis!r}")
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._check_shapes(input_shape)
        rank = len(shapes[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis is None or axis == 0 or any(len(s) != rank for s in shapes):
            raise ValueError(
                f"A Concatenate layer with axis={self.axis} needs inputs of the same rank with "
                f"that axis beyond the batch, received shapes {shapes}"
            )
        for s in shapes[1:]:
            if any(
                a != b
                for i, (a, b) in enumerate(zip(s, shapes[0], strict=True))
                if i not in (0, axis)
            ):
                raise ValueError(
                    "A Concatenate layer requires inputs with matching shapes except for the "
                    f"concatenation axis. Received: input_shape={shapes}"
                )
        sizes = [s[axis] for s in shapes]
        out = list(shapes[0])
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def _merge(self, inputs: list[Value]) -> Value:
        from tinygrad_mlp.ops import concatenate

        return concatenate(inputs, axis=self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Lambda(Layer):
    """Wraps a Python function as a layer: ``Lambda(lambda x: x * 2)``.

    It runs, prints and trains like any layer, but it carries code, so saving
    writes only its name and loading refuses it (as Keras' safe mode does):
    rebuild the model in code and load the weights instead.
    """

    def __init__(
        self, function: Any, output_shape: Any = None, arguments: dict | None = None, **kwargs: Any
    ) -> None:
        if not callable(function):
            raise TypeError(f"Lambda needs a callable, received {function!r}")
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        return (None,) + tuple(self._output_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "function": getattr(self.function, "__name__", "lambda")}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        raise ValueError(
            "Requested the deserialization of a Lambda layer whose function is Python code. "
            "Loading never runs code from a file (Keras' safe_mode refuses it too): rebuild the "
            "model with its Lambda in code and call load_weights(path) instead."
        )


# Not a _registry.Registry: a layer is always a configured instance (no names,
# no classes or callables to instantiate), so only the class lookup below is left.
_LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        InputLayer, Dense, Dropout, BatchNormalization, Activation, Identity, Flatten, Reshape,
        Rescaling, ReLU, LeakyReLU, PReLU, ELU, Softmax, GaussianNoise, GaussianDropout,
        LayerNormalization, Normalization, Embedding, Add, Subtract, Multiply, Average, Maximum,
        Minimum, Concatenate, Lambda,
    )
}  # fmt: skip


def serialize(layer: Layer) -> dict[str, Any]:
    """``{'class_name': 'Dense', 'config': layer.get_config()}``."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict[str, Any], custom_objects: dict[str, type] | None = None) -> Layer:
    """Rebuild a layer from ``serialize``'s output; unknown classes list the known ones."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"a layer config must be a dict with 'class_name' and 'config', received {config!r}"
        )
    from tinygrad_mlp._registry import CUSTOM_OBJECTS

    known = dict(_LAYERS)
    known.update({k: v for k, v in CUSTOM_OBJECTS.items() if isinstance(v, type)})
    if custom_objects:
        known.update(custom_objects)
    name = config["class_name"]
    cls = known.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown layer class {config['class_name']!r}; known layers: {sorted(known)}"
        )
    return cls.from_config(dict(config.get("config", {})))


def get(identifier: Any) -> Layer:
    """A layer instance, or one rebuilt from a ``serialize`` dict."""
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret layer identifier {identifier!r}")
