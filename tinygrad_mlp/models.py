"""Keras' ``Sequential`` model on the ``Value`` engine, and the course's classic ``Perceptron``.

A ``Sequential`` model is a stack of layers; ``compile`` chooses the optimizer,
the loss and the metrics; ``fit`` runs mini-batch gradient descent::

    model = Sequential()
    model.add(Dense(20, input_dim=10, activation="relu"))
    model.add(Dense(4, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=SGD(0.1, 0.9),
                  metrics=["binary_accuracy"])
    history = model.fit(x, y, epochs=100, batch_size=250)

One training step: forward pass (the input batch is data, so no gradient is
spent on it), the loss, ``engine.grad`` for the trainable weights, and
``optimizer.apply_gradients`` updating them in place. When the last layer is a
``Dense`` with sigmoid/softmax and the loss is the matching cross-entropy, the
loss is computed from the pre-activation (``loss.with_logits()``): stable for
any logits, and the gradient is exactly ``p - y``. Metrics are computed on the
NumPy predictions, without building a graph.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import layers as layers_module
from tinygrad_mlp.engine import _const, _raw, grad, no_grad
from tinygrad_mlp.layers import Dense, InputLayer, Layer, _project, unique_name

__all__ = ["Sequential", "Perceptron", "load_model", "model_from_config"]

Shape = tuple[int | None, ...]


def load_model(path: Any, compile: bool = True) -> Sequential:
    """Load a model written by ``model.save(path)`` (see ``tinygrad_mlp.saving``)."""
    from tinygrad_mlp.saving import load_model as _load

    return _load(path, compile=compile)


def model_from_config(config: dict[str, Any]) -> Sequential:
    """Rebuild a model from ``{'class_name': 'Sequential', 'config': ...}``."""
    if config.get("class_name", "Sequential") != "Sequential":
        raise ValueError(f"Unknown model class {config.get('class_name')!r}; known: Sequential")
    return Sequential.from_config(config.get("config", config))


# ----------------------------------------------------------------------------
# input checking shared by fit / evaluate / predict


def _as_float_array(data: Any, what: str, dtype: np.dtype) -> np.ndarray:
    """``data`` as a float array of ``dtype`` (no copy when it already is one), checked finite."""
    if data is None:
        raise ValueError(f"{what} is None: pass a NumPy array or a (nested) list of numbers")
    try:
        arr = np.asarray(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{what} must be a rectangular array of numbers: {e}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers, received an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch dimension, received a scalar {arr!r}")
    arr = arr.astype(dtype, copy=False)
    # min/max propagate NaN and show inf without allocating a mask as large as the data
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{what} contains NaN or infinite values (first at index {tuple(bad.tolist())}); "
            "clean or impute the data before training"
        )
    return arr


def _weights_array(sample_weight: Any, n: int, what: str) -> np.ndarray:
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers, received dtype {w.dtype}")
    w = w.astype(np.float32).reshape(-1) if w.ndim == 2 and w.shape[1] == 1 else w
    if w.shape != (n,):
        raise ValueError(
            f"{what} must have shape ({n},) (one weight per sample), received {w.shape}"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{what} must be finite and non-negative")
    return w.astype(np.float32, copy=False)


def _class_weights(y: np.ndarray, class_weight: dict[Any, float]) -> np.ndarray:
    """Per-sample weights from ``{class: weight}`` (classes not listed weigh 1, as Keras)."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be a dict mapping class index to weight, received {class_weight!r}"
        )
    if y.ndim > 1 and y.shape[-1] > 1:
        classes = y.argmax(axis=-1)
    else:
        classes = np.round(y.reshape(len(y))).astype(np.int64)
    if classes.size and classes.min() < 0:
        raise ValueError(
            f"class_weight needs class labels >= 0, received label {int(classes.min())}"
        )
    size = max([int(classes.max(initial=0))] + [int(k) for k in class_weight]) + 1
    table = np.ones(size)
    for key, value in class_weight.items():
        if not float(value) >= 0 or not math.isfinite(float(value)):
            raise ValueError(f"class_weight values must be finite and >= 0, received {value!r}")
        if int(key) < 0:
            raise ValueError(f"class_weight keys must be class indices >= 0, received {key!r}")
        table[int(key)] = float(value)
    return table[classes].astype(np.float32)


def _verbosity(verbose: Any) -> int:
    """Keras' verbose: 'auto' is 1 (progress bar), 0 silent, 2 one line per epoch."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, received {verbose!r}")
    return int(verbose)


def _slice(arr: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    return None if arr is None else arr[start:stop]


# ----------------------------------------------------------------------------
# the model


class Sequential:
    """A linear stack of layers, trained with ``compile`` + ``fit`` as in Keras.

    ``Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])``
    maps inputs ``(batch, 2)`` to outputs ``(batch, 1)``.
    """

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        self.name = name if name is not None else unique_name("sequential")
        self._layers: list[Layer] = []
        self._input_shape: Shape | None = None
        self.built = False
        self.optimizer: Any = None
        self.loss: Any = None
        self.compiled_metrics: list[Callable] = []
        self.compiled_weighted_metrics: list[Callable] = []
        self._loss_weight = 1.0
        self._compile_config: dict[str, Any] | None = None
        self.stop_training = False
        self.history: Any = None
        # set by _plan_regularization() at the start of fit/evaluate/...: the layers whose
        # penalties join the loss and the (weight, constraint) pairs applied after each step;
        # both empty for a model without regularizers, so training then does no extra work
        self._penalty_layers: list[Layer] = []
        self._constrained: list[tuple[Any, Any]] = []
        for layer in layers or []:
            self.add(layer)

    # -- structure ---------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Layer) -> None:
        """Append a layer; once the input shape is known every new layer is built at once."""
        if not isinstance(layer, Layer):
            raise TypeError(
                "The added layer must be an instance of class Layer, received "
                f"{layer!r} of type {type(layer).__name__}"
            )
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("an InputLayer/Input can only be the first entry of a Sequential")
            self._input_shape = tuple(layer.input_shape)
            self.built = False
            return
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. "
                f"Name {layer.name!r} is already the name of a layer in this model."
            )
        if not self._layers and self._input_shape is None:
            if layer._batch_input_shape is not None:
                self._input_shape = tuple(layer._batch_input_shape)
        self._layers.append(layer)
        if self._input_shape is not None:
            try:
                self.build(self._input_shape)
            except Exception:
                self._layers.pop()  # a layer that does not fit leaves the model as it was
                raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        if not self._layers:
            self.built = False
        return layer

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch dimension first)."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(
                "You must provide an input_shape argument to build() (e.g. model.build((None, 10)))"
            )
        shape = (None,) + tuple(input_shape)[1:]
        if len(shape) < 2:
            raise ValueError(f"input_shape must be (batch, features), received {input_shape!r}")
        if self.built and self._input_shape is not None and self._input_shape[1:] != shape[1:]:
            raise ValueError(
                f"Model {self.name!r} was built for inputs of shape {self._input_shape}, "
                f"received input_shape {tuple(input_shape)}"
            )
        for layer in self._layers:
            if layer.built:
                expected = layer.input_shape
                if tuple(expected[1:]) != tuple(shape[1:]):
                    raise ValueError(
                        f"{type(layer).__name__} layer {layer.name!r} expects inputs with last "
                        f"dimension {expected[-1]} (shape {tuple(expected)}), received shape "
                        f"{shape}"
                    )
            else:
                layer._maybe_build(shape)
            shape = tuple(layer.compute_output_shape(shape))
        self._input_shape = (None,) + tuple(input_shape)[1:]
        self.built = bool(self._layers)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"{what}: model {self.name!r} has not been built yet, so its weights do not "
                "exist. Give the first layer an input shape (Dense(..., input_dim=n)), call "
                "model.build((None, n)), or call fit() first."
            )

    @property
    def input_shape(self) -> Shape:
        self._require_built("input_shape")
        return self._input_shape

    @property
    def output_shape(self) -> Shape:
        self._require_built("output_shape")
        return self._layers[-1].output_shape

    @property
    def trainable(self) -> bool:
        return all(layer.trainable for layer in self._layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self) -> list[Any]:
        """Every layer's weights (each layer's trainable then non-trainable), layer by layer."""
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Any]:
        return [w for layer in self._layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Any]:
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of all weights, in ``weights`` order."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Overwrite all weights (``weights`` order); every shape is checked before any write."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Model {self.name!r} expects {len(own)} weight arrays, received {len(weights)}"
            )
        for w, new in zip(own, weights, strict=True):
            if np.shape(new) != w.data.shape:
                raise ValueError(
                    f"weight {w.label!r} has shape {w.data.shape}, received an array of "
                    f"shape {np.shape(new)}"
                )
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[:n])
            weights = weights[n:]

    def count_params(self) -> int:
        """The number of scalars in all weights."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    @property
    def losses(self) -> list[Any]:
        """Every layer's regularization penalties (0-d Values), layer by layer (Keras')."""
        return [penalty for layer in self._layers for penalty in layer.losses]

    def _plan_regularization(self) -> None:
        """Find the layers with penalties and the constrained weights once per fit/evaluate."""
        self._penalty_layers = [layer for layer in self._layers if layer._has_penalties()]
        self._constrained = [
            pair for layer in self._layers for pair in layer._constrained_weights()
        ]

    def _add_penalties(self, loss: Any) -> Any:
        """``loss + sum of the layers' regularization penalties`` (in the graph when training)."""
        for layer in self._penalty_layers:
            for penalty in layer.losses:
                loss = loss + penalty
        return loss

    # -- compile -----------------------------------------------------------------

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        loss_weights: Any = None,
        weighted_metrics: Sequence[Any] | None = None,
        run_eagerly: Any = None,
        steps_per_execution: Any = None,
        jit_compile: Any = None,
        **kwargs: Any,
    ) -> None:
        """Choose the optimizer, the loss and the metrics (names, instances or callables)."""
        from tinygrad_mlp import losses, optimizers
        from tinygrad_mlp import metrics as metrics_module

        if kwargs:
            raise TypeError(f"compile() got unexpected keyword argument(s) {sorted(kwargs)}")
        optimizer = optimizers.get(optimizer)
        loss_fn = losses.get(loss) if loss is not None else None
        if isinstance(metrics, (str, dict)) or callable(metrics):
            metrics = [metrics]
        if isinstance(weighted_metrics, str) or callable(weighted_metrics):
            weighted_metrics = [weighted_metrics]
        metric_fns = [metrics_module.get(m, loss=loss_fn) for m in (metrics or [])]
        weighted_fns = [metrics_module.get(m, loss=loss_fn) for m in (weighted_metrics or [])]
        names = {"loss"}
        for fn in metric_fns:
            if fn.__name__ in names:
                raise ValueError(f"metric {fn.__name__!r} is given twice to compile()")
            names.add(fn.__name__)
        if loss_weights is None:
            loss_weight = 1.0
        elif isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1:
            loss_weight = float(loss_weights[0])
        elif isinstance(loss_weights, (int, float)) and not isinstance(loss_weights, bool):
            loss_weight = float(loss_weights)
        else:
            raise ValueError(
                f"loss_weights for a single-output model must be a number or a list of one "
                f"number, received {loss_weights!r}"
            )
        if not (math.isfinite(loss_weight) and loss_weight >= 0):
            raise ValueError(f"loss_weights must be finite numbers >= 0, received {loss_weights!r}")
        self.optimizer = optimizer
        self.loss = loss_fn
        self.compiled_metrics = metric_fns
        self.compiled_weighted_metrics = weighted_fns
        self._loss_weight = loss_weight
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "metrics": metrics,
            "loss_weights": loss_weights,
            "weighted_metrics": weighted_metrics,
        }

    @property
    def metrics_names(self) -> list[str]:
        """``['loss', <metric names>...]`` in the order ``evaluate`` returns them."""
        return ["loss"] + [name for name, _, _ in self._metric_table()]

    def _metric_table(self) -> list[tuple[str, Callable, bool]]:
        """(history key, function, weighted by sample weights)."""
        table = [(fn.__name__, fn, False) for fn in self.compiled_metrics]
        taken = {name for name, _, _ in table}
        for fn in self.compiled_weighted_metrics:
            name = fn.__name__ if fn.__name__ not in taken else "weighted_" + fn.__name__
            table.append((name, fn, True))
        return table

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None:
            raise RuntimeError(
                f"You must compile your model before {what}. "
                "Call model.compile(optimizer, loss) first."
            )
        if self.loss is None:
            raise ValueError(
                f"{what}: the model was compiled without a loss; "
                "call model.compile(optimizer=..., loss=...) with a loss"
            )

    # -- the forward pass and the loss ---------------------------------------------

    def call(self, inputs: Any, training: bool = False) -> Any:
        """Run the layers on ``inputs`` (a Value or an array); returns a Value."""
        x = inputs if not isinstance(inputs, np.ndarray) else _const(inputs)
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    __call__ = call

    def _fused_loss(self) -> Any:
        """The logits form of the loss when the last layer's activation can be folded into it."""
        from tinygrad_mlp import losses

        last = self._layers[-1] if self._layers else None
        loss = self.loss
        if not isinstance(last, Dense) or not getattr(loss, "with_logits", None):
            return None
        if last.activity_regularizer is not None:  # it needs the activation's output
            return None
        if getattr(loss, "from_logits", True):
            return None
        name = getattr(last.activation, "__name__", "")
        if name == "sigmoid" and isinstance(loss, losses.BinaryCrossentropy):
            return loss.with_logits()
        if name == "softmax" and isinstance(
            loss, (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)
        ):
            return loss.with_logits()
        return None

    def _forward_loss(
        self, xb: np.ndarray, yb: np.ndarray, swb: np.ndarray | None, fused: Any, training: bool
    ) -> tuple[Any, np.ndarray]:
        """The batch loss (a 0-d Value) and the predictions as a NumPy array."""
        x = _const(xb)
        if fused is not None:
            last = self._layers[-1]
            for layer in self._layers[:-1]:
                x = layer(x, training=training)
            last._check_input_shape(x.shape)
            z = last.call_linear(x)
            loss = fused(yb, z, swb)
            if self.compiled_metrics or self.compiled_weighted_metrics:
                with no_grad():
                    y_pred = last.activation(z).data
            else:  # only the batch size is needed: skip the activation
                y_pred = z.data
        else:
            out = self.call(x, training=training)
            loss = self.loss(yb, out, swb)
            y_pred = out.data
        if self._loss_weight != 1.0:
            loss = loss * self._loss_weight
        if self._penalty_layers:  # Keras adds regularization after the loss weights
            loss = self._add_penalties(loss)
        return loss, y_pred

    # -- data checks ---------------------------------------------------------------

    def _is_sparse(self) -> bool:
        from tinygrad_mlp import losses

        return isinstance(self.loss, losses.SparseCategoricalCrossentropy) or (
            getattr(self.loss, "name", "") == "sparse_categorical_crossentropy"
        )

    def _prepare_x(self, x: Any, what: str = "x") -> np.ndarray:
        dtype = self._layers[0].dtype if self._layers else np.dtype("float32")
        arr = _as_float_array(x, what, dtype)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if not self.built:
            if not self._layers:
                raise ValueError("the model has no layers: add layers before using it")
        elif tuple(arr.shape[1:]) != tuple(self._input_shape[1:]):
            first = self._layers[0]
            raise ValueError(
                f"Input of model {self.name!r} is incompatible: {type(first).__name__} layer "
                f"{first.name!r} expects inputs of shape {self._input_shape} (last dimension "
                f"{self._input_shape[-1]}), received {what} of shape {arr.shape}"
            )
        return arr

    def _prepare_y(self, y: Any, n: int, what: str = "y") -> np.ndarray:
        if y is None:
            raise ValueError(f"{what} is None: fit/evaluate need targets")
        sparse = self._is_sparse()
        if sparse:
            arr = np.asarray(y)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{what} must hold integer class labels, received {arr.dtype}")
        else:
            dtype = self._layers[-1].dtype if self._layers else np.float32
            arr = _as_float_array(y, what, dtype)
        if len(arr) != n:
            raise ValueError(
                f"Data cardinality is ambiguous: x has {n} samples but {what} has {len(arr)}. "
                "Make sure all arrays contain the same number of samples."
            )
        out_shape = self.output_shape
        if sparse:
            classes = out_shape[-1]
            labels = arr.reshape(n) if arr.ndim == 2 and arr.shape[1] == 1 else arr
            if labels.ndim != 1:
                raise ValueError(
                    f"sparse_categorical_crossentropy expects {what} of integer labels of shape "
                    f"({n},), received shape {arr.shape}"
                )
            if labels.dtype.kind == "f" and (
                not np.isfinite(labels).all() or (labels != np.round(labels)).any()
            ):
                raise ValueError(f"{what} must hold integer class labels in [0, {classes})")
            bad = (labels < 0) | (labels >= classes)
            if bad.any():
                raise ValueError(
                    f"{what} holds labels {np.unique(labels[bad])[:5].tolist()} out of range: "
                    f"the model has {classes} outputs, so labels must lie in [0, {classes})"
                )
            return labels.astype(np.int64, copy=False)
        if arr.ndim == 1 and out_shape[-1] == 1:
            arr = arr.reshape(-1, 1)
        if tuple(arr.shape[1:]) != tuple(out_shape[1:]):
            hint = ""
            if arr.ndim == 1 and out_shape[-1] > 1:
                hint = (
                    " (integer labels need loss='sparse_categorical_crossentropy', or "
                    "one-hot targets from to_categorical)"
                )
            raise ValueError(
                f"{what} has shape {arr.shape} but the model's output has shape {out_shape}{hint}"
            )
        return arr

    def _prepare(
        self, x: Any, y: Any, sample_weight: Any, class_weight: Any = None, what: str = ""
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        x = self._prepare_x(x, what + "x")
        if not self.built:
            self.build((None,) + x.shape[1:])
        y = self._prepare_y(y, len(x), what + "y")
        sw = None
        if sample_weight is not None:
            sw = _weights_array(sample_weight, len(x), what + "sample_weight")
        if class_weight is not None:
            cw = _class_weights(y, class_weight)
            sw = cw if sw is None else sw * cw
        return x, y, sw

    # -- training ------------------------------------------------------------------

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: Any = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: dict[Any, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
        seed: int | None = None,
    ) -> Any:
        """Train for ``epochs`` passes over ``x``/``y`` in mini-batches of ``batch_size``.

        ``batch_size=1`` is stochastic gradient descent, ``batch_size=len(x)`` batch
        gradient descent (default 32, as Keras). ``validation_split`` holds out the
        *last* fraction of the data (before shuffling). Returns a ``History``
        whose ``.history`` maps ``loss``, each metric and their ``val_`` versions
        to per-epoch values. ``seed`` makes the shuffling reproducible.
        ``steps_per_epoch`` caps the number of batches per epoch (each epoch starts
        again from the first batch); ``validation_steps`` is accepted for Keras
        compatibility and ignored (the whole validation set is always used).
        Every argument and the data are checked before the first weight changes.
        """
        from tinygrad_mlp.callbacks import CallbackList

        self._require_compiled("training the model")
        batch_size = self._check_batch_size(batch_size)
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, received {epochs!r}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), received {validation_split!r}")
        _check_count("initial_epoch", initial_epoch, minimum=0)
        if steps_per_epoch is not None:
            _check_count("steps_per_epoch", steps_per_epoch, minimum=1)
        if validation_batch_size is not None:
            validation_batch_size = self._check_batch_size(validation_batch_size)
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                    f"sample_weight_val), received {type(validation_data).__name__}"
                )
            vsw = validation_data[2] if len(validation_data) == 3 else None
            val = self._prepare(validation_data[0], validation_data[1], vsw, what="validation_")
        elif validation_split:
            split = int(math.floor(len(x) * (1.0 - float(validation_split))))
            if split == 0 or split == len(x):
                raise ValueError(
                    f"validation_split={validation_split} leaves no training or no validation "
                    f"samples out of {len(x)}"
                )
            val = (x[split:], y[split:], _slice(sw, split, len(x)))
            x, y, sw = x[:split], y[:split], _slice(sw, 0, split)
        if len(x) == 0:
            raise ValueError("fit() received no training samples")
        if isinstance(validation_freq, int):
            val_epochs = None
            if validation_freq < 1:
                raise ValueError(f"validation_freq must be >= 1, received {validation_freq}")
        else:
            val_epochs = set(int(e) for e in validation_freq)

        n = len(x)
        steps = math.ceil(n / batch_size)
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch))
        verbose = _verbosity(verbose)
        cbs = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            epochs=epochs,
            steps=steps,
            verbose=verbose,
        )
        rng = np.random.default_rng(seed) if seed is not None else np.random
        self._plan_regularization()
        fused = self._fused_loss()
        metric_table = self._metric_table()
        trainable = self.trainable_weights
        self.stop_training = False
        cbs.on_train_begin()
        epoch_logs: dict[str, float] = {}
        warned = False  # a loss that turns NaN/inf is said once per fit, never hidden
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            if shuffle:
                order = rng.permutation(n)
                xe, ye, swe = x[order], y[order], None if sw is None else sw[order]
            else:
                xe, ye, swe = x, y, sw
            totals = _Totals(metric_table)
            for step in range(steps):
                cbs.on_train_batch_begin(step)
                start, stop = step * batch_size, min((step + 1) * batch_size, n)
                xb, yb, swb = xe[start:stop], ye[start:stop], _slice(swe, start, stop)
                loss_value, y_pred = self._train_step(xb, yb, swb, fused, trainable)
                if not warned and not math.isfinite(loss_value):
                    warned = True
                    warnings.warn(
                        f"the loss became {loss_value} at epoch {epoch + 1}, batch {step + 1}; "
                        "the weights now hold NaN/inf (as in Keras). Try a lower learning rate, "
                        "or callbacks=[TerminateOnNaN()] to stop when it happens.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                totals.add(loss_value, yb, y_pred, swb)
                cbs.on_train_batch_end(step, totals.logs())
                if self.stop_training:
                    break
            epoch_logs = totals.logs()
            if val is not None and (
                (val_epochs is None and (epoch + 1) % validation_freq == 0)
                or (val_epochs is not None and epoch + 1 in val_epochs)
            ):
                val_logs = self._evaluate_arrays(
                    *val, validation_batch_size or batch_size, fused, metric_table, cbs
                )
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            epoch_logs = dict(sorted(epoch_logs.items()))  # Keras 3's order, so History's too
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(epoch_logs)
        return self.history

    def _train_step(
        self,
        xb: np.ndarray,
        yb: np.ndarray,
        swb: np.ndarray | None,
        fused: Any,
        trainable: list[Any],
    ) -> tuple[float, np.ndarray]:
        loss, y_pred = self._forward_loss(xb, yb, swb, fused, training=True)
        value = float(loss.data)
        # as Keras: the step is taken even when the loss is NaN/inf (fit warns once);
        # TerminateOnNaN stops training at the end of such a batch
        if trainable and loss.requires_grad:
            grads = grad(loss, trainable)
            self.optimizer.apply_gradients(list(zip(grads, trainable, strict=True)))
            for weight, constraint in self._constrained:
                _project(weight, constraint)
        return value, y_pred

    @staticmethod
    def _check_batch_size(batch_size: Any) -> int:
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be a positive int, received {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, received {batch_size!r}")
        return int(batch_size)

    def _evaluate_arrays(
        self,
        x: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray | None,
        batch_size: int,
        fused: Any,
        metric_table: list,
        cbs: Any = None,
    ) -> dict[str, float]:
        totals = _Totals(metric_table)
        if cbs is not None:
            cbs.on_test_begin()
        with no_grad():
            for step, start in enumerate(range(0, len(x), batch_size)):
                stop = start + batch_size
                swb = _slice(sw, start, stop)
                if cbs is not None:
                    cbs.on_test_batch_begin(step)
                loss, y_pred = self._forward_loss(x[start:stop], y[start:stop], swb, fused, False)
                totals.add(float(loss.data), y[start:stop], y_pred, swb)
                if cbs is not None:
                    cbs.on_test_batch_end(step, totals.logs())
        logs = totals.logs()
        if cbs is not None:
            cbs.on_test_end(logs)
        return logs

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        callbacks: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """Loss and metrics on ``x``/``y``: a float without metrics, else ``[loss, *metrics]``."""
        from tinygrad_mlp.callbacks import CallbackList

        self._require_compiled("evaluating the model")
        self._require_built("evaluate()")
        batch_size = self._check_batch_size(batch_size)
        x, y, sw = self._prepare(x, y, sample_weight)
        verbose = _verbosity(verbose)
        cbs = CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            steps=math.ceil(len(x) / batch_size),
            verbose=verbose,
        )
        self._plan_regularization()
        logs = self._evaluate_arrays(
            x, y, sw, batch_size, self._fused_loss(), self._metric_table(), cbs
        )
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[Any, float] | None = None,
        reset_metrics: bool = True,
        return_dict: bool = False,
    ) -> Any:
        """One gradient step on one batch; returns the batch's loss (and metrics)."""
        self._require_compiled("training the model")
        x, y, sw = self._prepare(x, y, sample_weight, class_weight)
        table = self._metric_table()
        self._plan_regularization()
        loss, y_pred = self._train_step(x, y, sw, self._fused_loss(), self.trainable_weights)
        totals = _Totals(table)
        totals.add(loss, y, y_pred, sw)
        return self._batch_result(totals.logs(), return_dict)

    def test_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        reset_metrics: bool = True,
        return_dict: bool = False,
    ) -> Any:
        """Loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("evaluating the model")
        self._require_built("test_on_batch()")
        x, y, sw = self._prepare(x, y, sample_weight)
        self._plan_regularization()
        logs = self._evaluate_arrays(x, y, sw, len(x), self._fused_loss(), self._metric_table())
        return self._batch_result(logs, return_dict)

    def _batch_result(self, logs: dict[str, float], return_dict: bool) -> Any:
        if return_dict:
            return logs
        values = [logs[k] for k in self.metrics_names]
        return values[0] if len(values) == 1 else values

    # -- inference -----------------------------------------------------------------

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: Any = "auto",
        steps: Any = None,
        callbacks: Any = None,
    ) -> np.ndarray:
        """The model's outputs for ``x`` (inference mode: no dropout, moving BN statistics)."""
        self._require_built("predict()")
        batch_size = self._check_batch_size(batch_size)
        x = self._prepare_x(x)
        from tinygrad_mlp.callbacks import CallbackList

        verbose = _verbosity(verbose)
        cbs = CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self,
            steps=math.ceil(len(x) / batch_size),
            verbose=verbose,
        )
        out = np.empty((len(x),) + tuple(self.output_shape[1:]), dtype=self._layers[-1].dtype)
        cbs.on_predict_begin()
        with no_grad():
            for step, start in enumerate(range(0, len(x), batch_size)):
                cbs.on_predict_batch_begin(step)
                batch = self.call(_const(x[start : start + batch_size])).data
                out[start : start + batch_size] = batch
                cbs.on_predict_batch_end(step, {"outputs": batch})
        cbs.on_predict_end()
        return out

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """The outputs for one batch."""
        return self.predict(x, batch_size=max(len(np.asarray(x)), 1), verbose=0)

    def predict_proba(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> np.ndarray:
        """The old Keras alias of ``predict`` for probabilistic outputs."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_classes(
        self, x: Any, batch_size: int | None = None, verbose: Any = 0
    ) -> np.ndarray:
        """Class indices, as the old Keras API: argmax over several outputs, else ``p > 0.5``.

        Shapes: ``(n,)`` for several outputs, ``(n, 1)`` of int32 for one sigmoid output.
        """
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    # -- description ---------------------------------------------------------------

    def summary(
        self,
        line_length: int | None = None,
        positions: Sequence[float] | None = None,
        print_fn: Callable[[str], Any] | None = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
    ) -> None:
        """Print Keras' table: layer name (type), output shape, parameter count, then totals.

        Box-drawing characters as Keras 3; plain ASCII (Keras 2's layout) when
        the output stream cannot encode them.
        """
        self._require_built("summary()")
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(layer.output_shape),
                f"{layer.count_params():,}",
            )
            for layer in self._layers
        ]
        trainable = sum(w.data.size for w in self.trainable_weights)
        non_trainable = sum(w.data.size for w in self.non_trainable_weights)
        itemsize = self._layers[0].dtype.itemsize if self._layers else 4
        totals = [
            f"Total params: {trainable + non_trainable:,} "
            f"({_readable_size((trainable + non_trainable) * itemsize)})",
            f"Trainable params: {trainable:,} ({_readable_size(trainable * itemsize)})",
            f"Non-trainable params: {non_trainable:,} ({_readable_size(non_trainable * itemsize)})",
        ]
        if print_fn is None:
            stream = sys.stdout
            encoding = getattr(stream, "encoding", None) or "ascii"
            try:
                "┏━┃┡╇┩│├┼┤└┴┘─".encode(encoding)
                boxes = True
            except (UnicodeEncodeError, LookupError):
                boxes = False

            def print_fn(line: str) -> None:
                print(line, file=stream)
        else:
            boxes = True
        header = ("Layer (type)", "Output Shape", "Param #")
        if boxes:
            lines = _box_table(self.name, header, rows, totals, line_length, positions)
        else:
            lines = _ascii_table(self.name, header, rows, totals, line_length, positions)
        for line in lines:
            print_fn(line)

    # -- config, saving ----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """``{name, layers: [{class_name, config}...], build_input_shape}``, JSON-able."""
        config: dict[str, Any] = {
            "name": self.name,
            "layers": [layers_module.serialize(layer) for layer in self._layers],
        }
        if self._input_shape is not None:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Sequential:
        """Rebuild an (untrained) model with the same layers from ``get_config()``."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("a Sequential config must be a dict with a 'layers' list")
        model = cls(name=config.get("name"))
        for layer_config in config["layers"]:
            layer = layers_module.deserialize(layer_config, custom_objects)
            model.add(layer)
        shape = config.get("build_input_shape")
        if shape is not None and not model.built and model._layers:
            model.build(tuple(shape))
        return model

    def get_compile_config(self) -> dict[str, Any] | None:
        """What ``compile`` was called with (None before compile)."""
        return self._compile_config

    def save(self, filepath: Any, overwrite: bool = True) -> None:
        """Save architecture, weights and optimizer state in one archive (see ``saving``)."""
        from tinygrad_mlp.saving import save_model

        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save only the weights (``weights`` order)."""
        from tinygrad_mlp.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any) -> None:
        """Load weights saved by ``save_weights`` or ``save`` into this (built) model."""
        from tinygrad_mlp.saving import load_weights

        load_weights(self, filepath)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name!r}, layers={[layer.name for layer in self._layers]}>"


def _check_count(what: str, value: Any, minimum: int) -> int:
    """An integer argument of fit: a clear ValueError before anything changes."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, received {value!r}")
    return int(value)


class _Totals:
    """Running sums over an epoch: the loss weighted by batch size, metrics per sample."""

    __slots__ = ("table", "count", "loss_sum", "sums", "weights", "stateful")

    def __init__(self, table: list[tuple[str, Callable, bool]]) -> None:
        from tinygrad_mlp.metrics import Metric

        self.table = table
        self.count = 0
        self.loss_sum = 0.0
        self.sums = [0.0] * len(table)
        self.weights = [0.0] * len(table)
        self.stateful = [isinstance(fn, Metric) for _, fn, _ in table]
        for (_, fn, _), stateful in zip(table, self.stateful, strict=True):
            if stateful:  # an epoch (or an evaluation) starts from nothing, as in Keras
                fn.reset_state()

    def add(
        self, loss: float, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None
    ) -> None:
        n = len(y_pred)
        self.count += n
        self.loss_sum += loss * n
        for i, (_, fn, weighted) in enumerate(self.table):
            if self.stateful[i]:  # Precision, AUC, ...: counts over the epoch, not a mean
                fn.update_state(y_true, y_pred, sample_weight if weighted else None)
                continue
            values = np.asarray(_raw(fn(y_true, y_pred)), dtype=np.float64)
            if values.size == 1 and n != 1:  # a callable that already averaged the batch
                values = np.full(n, float(values.reshape(())))
            else:
                values = values.reshape(n, -1).mean(axis=1)
            if weighted and sample_weight is not None:
                self.sums[i] += float(values @ sample_weight)
                self.weights[i] += float(sample_weight.sum())
            else:
                self.sums[i] += float(values.sum())
                self.weights[i] += n

    def logs(self) -> dict[str, float]:
        logs = {"loss": self.loss_sum / max(self.count, 1)}
        for i, ((name, fn, _), s, w) in enumerate(
            zip(self.table, self.sums, self.weights, strict=True)
        ):
            if self.stateful[i]:
                value = fn.result()
                logs[name] = float(value) if np.ndim(value) == 0 else np.asarray(value).tolist()
            else:
                logs[name] = s / w if w else 0.0
        return dict(sorted(logs.items()))  # Keras 3 shows and keeps logs sorted by name


# ----------------------------------------------------------------------------
# summary tables


def _readable_size(nbytes: float) -> str:
    """Bytes in Keras' units: ``1.19 KB`` for 1216 bytes (powers of 1024)."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    i = 0
    while nbytes >= 1024 and i < len(units) - 1:
        nbytes /= 1024
        i += 1
    return f"{nbytes:.2f} {units[i]}"


def _column_widths(
    line_length: int | None,
    positions: Sequence[float] | None,
    default: tuple[int, ...],
    total_default: int,
    borders: int,
) -> list[int]:
    if line_length is None and positions is None:
        return list(default)
    line_length = line_length or total_default
    inner = max(line_length - borders, 3 * 4)
    if positions is None:
        positions = [sum(default[: i + 1]) / sum(default) for i in range(len(default))]
    if positions[-1] <= 1:
        positions = [int(p * inner) for p in positions]
    widths, prev = [], 0
    for p in positions:
        widths.append(max(int(p) - prev, 4))
        prev = int(p)
    return widths


def _fitted(default: tuple[int, ...], rows: list[tuple[str, ...]], pad: int) -> tuple[int, ...]:
    """Default column widths, widened so that no row is cut when no line_length is given."""
    return tuple(max([w] + [len(row[i]) + pad for row in rows]) for i, w in enumerate(default))


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _box_table(
    name: str,
    header: tuple[str, ...],
    rows: list[tuple[str, ...]],
    totals: list[str],
    line_length: int | None,
    positions: Sequence[float] | None,
) -> list[str]:
    widths = _column_widths(line_length, positions, _fitted((33, 24, 15), rows, 2), 76, 4)
    inner = [w - 2 for w in widths]

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * w for w in widths) + right

    def row(cells: tuple[str, ...], bar: str) -> str:
        parts = []
        for i, (cell, w) in enumerate(zip(cells, inner, strict=True)):
            cell = _fit(cell, w)
            parts.append(" " + (cell.rjust(w) if i == len(cells) - 1 else cell.ljust(w)) + " ")
        return bar + bar.join(parts) + bar

    lines = [
        f'Model: "{name}"',
        rule("┏", "━", "┳", "┓"),
        row(header, "┃"),
        rule("┡", "━", "╇", "┩"),
    ]
    for i, r in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines.append(row(r, "│"))
    lines.append(rule("└", "─", "┴", "┘"))
    lines.extend(" " + t for t in totals)
    return lines


def _ascii_table(
    name: str,
    header: tuple[str, ...],
    rows: list[tuple[str, ...]],
    totals: list[str],
    line_length: int | None,
    positions: Sequence[float] | None,
) -> list[str]:
    widths = _column_widths(line_length, positions, _fitted((29, 26, 10), rows, 3), 65, 0)
    total = sum(widths)

    def row(cells: tuple[str, ...]) -> str:
        out = ""
        for cell, w in zip(cells, widths, strict=True):
            out += (" " + _fit(cell, w - 2).replace("…", "~")).ljust(w)
        return out

    lines = [f'Model: "{name}"', "_" * total, row(header), "=" * total]
    for i, r in enumerate(rows):
        if i:
            lines.append("")
        lines.append(row(r))
    lines += ["=" * total, *totals, "_" * total]
    return lines


# ----------------------------------------------------------------------------
# the course's perceptron


class Perceptron:
    """Rosenblatt's perceptron: ``y_hat = step(w . x + b)`` with the classic learning rule.

    On every mistake ``w <- w + alpha * (y - y_hat) * x`` and
    ``b <- b + alpha * (y - y_hat)`` (labels 0/1). It stops after an epoch with
    no mistake, or after ``max_iter`` epochs. ``errors_`` holds the number of
    mistakes in each epoch (the course's "error at each step" plot). It finds a
    separating line whenever one exists, and never converges on the circle or XOR.
    """

    def __init__(
        self,
        learning_rate: float = 0.1,
        max_iter: int = 100,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> None:
        if not float(learning_rate) > 0:
            raise ValueError(f"learning_rate must be positive, received {learning_rate!r}")
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive int, received {max_iter!r}")
        self.learning_rate = float(learning_rate)
        self.max_iter = int(max_iter)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.errors_: list[int] = []

    def fit(self, x: Any, y: Any) -> Perceptron:
        """Learn ``coef_`` (shape ``(features,)``) and ``intercept_`` from 0/1 labels."""
        x = _as_float_array(x, "x", np.dtype(np.float64))
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        y = _as_float_array(y, "y", np.dtype(np.float64)).reshape(-1)
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("Perceptron expects labels 0 and 1")
        rng = np.random.default_rng(self.seed)
        w = np.zeros(x.shape[1])
        b = 0.0
        self.errors_ = []
        for _ in range(self.max_iter):
            order = rng.permutation(len(x)) if self.shuffle else range(len(x))
            mistakes = 0
            for i in order:
                y_hat = 1.0 if x[i] @ w + b >= 0 else 0.0
                if y_hat != y[i]:
                    w += self.learning_rate * (y[i] - y_hat) * x[i]
                    b += self.learning_rate * (y[i] - y_hat)
                    mistakes += 1
            self.errors_.append(mistakes)
            if mistakes == 0:
                break
        self.coef_, self.intercept_ = w, b
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        """``w . x + b`` for each sample."""
        if self.coef_ is None:
            raise ValueError("This Perceptron is not fitted yet: call fit(x, y) first")
        x = _as_float_array(x, "x", np.dtype(np.float64))
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        if x.shape[1] != len(self.coef_):
            raise ValueError(
                f"Perceptron expects inputs with last dimension {len(self.coef_)}, "
                f"received shape {x.shape}"
            )
        return x @ self.coef_ + self.intercept_

    def predict(self, x: Any) -> np.ndarray:
        """The step activation: 1 where ``w . x + b >= 0``, else 0 (int array)."""
        return (self.decision_function(x) >= 0).astype(int)

    def score(self, x: Any, y: Any) -> float:
        """Accuracy on ``x``/``y``."""
        return float((self.predict(x) == np.asarray(y).reshape(-1)).mean())
