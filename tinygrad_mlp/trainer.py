"""The training loop Keras 3 models share: ``compile``, ``fit``, ``evaluate``, ``predict``.

``Trainer`` is mixed into ``Model``; it knows nothing of layer types. It asks
the model for its inputs' and outputs' names and shapes, for a forward pass
(``_forward``), and whether an output can be given before its activation
(``_output_activation``), and does the rest:

* ``compile`` resolves one loss, a list or a dict of losses (one per output),
  ``loss_weights`` and the metrics per output;
* each step: the forward pass on the batch (data, so no gradient is spent on
  it), ``loss = sum_i w_i * loss_i(y_i, out_i)`` plus the layers'
  regularization penalties, ``engine.grad`` for the trainable weights, and
  ``optimizer.apply_gradients`` updating them in place. When an output is a
  sigmoid/softmax and its loss the matching cross-entropy, the loss is taken
  from the pre-activation (``loss.with_logits()``): stable for any logits, and
  the gradient is exactly ``p - y``;
* the data arrive through ``data_adapters`` (arrays, PyDataset, generators).

History keys follow Keras 3: ``loss``, each metric, and for several outputs
``<output>_loss`` and ``<output>_<metric>``; ``val_`` versions for validation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import data_adapters
from tinygrad_mlp.engine import _const, _raw, grad, no_grad
from tinygrad_mlp.layers import _project

__all__ = ["Trainer"]

_NO_LOSSES: list[float] = []  # a single output logs no per-output loss
PREDICT_CHUNK_ROWS = 2048  # rows per forward pass in predict (cache-sized; 8192 ran 2.5x slower)

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
    if arr.size and not _all_finite(arr):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{what} contains NaN or infinite values (first at index {tuple(bad.tolist())}); "
            "clean or impute the data before training"
        )
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of a non-empty float array is finite, without a mask as large as
    the data. The sum of squares is NaN or inf when an entry is (both propagate, and squares
    cannot cancel), so a finite sum clears all of them in one BLAS pass (half the time of
    min and max); min and max decide when it is not finite (NaN or inf in the data, or
    finite entries whose squares overflow)."""
    if arr.dtype.char in "fd" and (arr.flags.c_contiguous or arr.flags.f_contiguous):  # BLAS's
        flat = arr.ravel(order="K")  # a view in either order (pandas often gives columns)
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.dot(flat, flat)):
                return True
    return bool(np.isfinite(arr.min()) and np.isfinite(arr.max()))


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


def _last_batch(first: int, xb: list[np.ndarray], batch_size: int) -> int:
    """The index of the last batch_size batch inside a chunk that starts at batch ``first``."""
    return first + max(1, -(-len(xb[0]) // batch_size)) - 1


def _check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, received {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, received {batch_size!r}")
    return int(batch_size)


def _per_output(value: Any, names: list[str], what: str, single: Callable[[Any], bool]) -> list:
    """One entry per output from a single value, a list (in output order) or a dict by name."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(
                f"{what} has keys {unknown} that are not output names; the outputs are {names}"
            )
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not single(value):
        if len(value) != len(names):
            raise ValueError(
                f"For a model with {len(names)} output(s), {what} as a list must have one entry "
                f"per output ({names}), received {len(value)} entries"
            )
        return list(value)
    return [value] * len(names)


class Trainer:
    """``compile``/``fit``/``evaluate``/``predict`` over the model's inputs and outputs."""

    optimizer: Any = None
    loss: Any = None
    stop_training = False
    history: Any = None
    _compile_config: dict[str, Any] | None = None
    _compiled: Any = None  # the per-output plan, made at the first fit/evaluate
    _penalized = False  # set per fit/evaluate: do regularization penalties join the loss?
    _constrained: list[tuple[Any, Any]] = []

    # -- compile -----------------------------------------------------------------

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: Any = None,
        steps_per_execution: Any = None,
        jit_compile: Any = None,
        **kwargs: Any,
    ) -> None:
        """Choose the optimizer, the loss(es) and the metrics (names, instances or callables).

        With several outputs ``loss``, ``loss_weights`` and ``metrics`` may be lists
        in output order or dicts keyed by output name; the total loss is
        ``sum_i loss_weights[i] * loss_i``.
        """
        from tinygrad_mlp import losses, optimizers

        if kwargs:
            raise TypeError(f"compile() got unexpected keyword argument(s) {sorted(kwargs)}")
        optimizer = optimizers.get(optimizer)
        for fn in data_adapters_leaves(loss):  # unknown names fail here, not at fit
            losses.get(fn)
        for weight in data_adapters_leaves(loss_weights):
            if isinstance(weight, bool) or not isinstance(weight, (int, float, np.number)):
                raise ValueError(
                    f"loss_weights must be numbers, a list or a dict of numbers, received "
                    f"{loss_weights!r}"
                )
            if not (math.isfinite(float(weight)) and float(weight) >= 0):
                raise ValueError(
                    f"loss_weights must be finite numbers >= 0, received {loss_weights!r}"
                )
        self.optimizer = optimizer
        self.__dict__["_replay_config"] = {"jit_compile": jit_compile, "run_eagerly": run_eagerly}
        self.__dict__.pop("_replay", None)
        self._compile_config = {
            "optimizer": optimizer,
            "loss": loss,
            "metrics": metrics,
            "loss_weights": loss_weights,
            "weighted_metrics": weighted_metrics,
        }
        self._compiled = None
        self.loss = losses.get(loss) if loss is not None and not _is_collection(loss) else loss
        if self._outputs_known():
            self._compile_plan()

    def _compile_plan(self) -> _Plan:
        """Losses, weights and metric tables per output (once the outputs are known)."""
        if self._compiled is not None:
            return self._compiled
        self._compiled = _Plan(self, self._compile_config or {}, self._output_names())
        return self._compiled

    @property
    def compiled_metrics(self) -> list[Callable]:
        plan = self._compiled
        return [fn for _, fn, weighted, _ in plan.table if not weighted] if plan else []

    @property
    def metrics_names(self) -> list[str]:
        """``['loss', <output losses>..., <metric names>...]`` in ``evaluate``'s order."""
        plan = self._compile_plan() if self._compile_config else None
        if plan is None:
            return []
        return ["loss"] + plan.loss_keys + [key for key, _, _, _ in plan.table]

    def get_compile_config(self) -> dict[str, Any] | None:
        """What ``compile`` was called with (None before compile)."""
        return self._compile_config

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None:
            raise RuntimeError(
                f"You must compile your model before {what}. "
                "Call model.compile(optimizer, loss) first."
            )
        if self._compile_config.get("loss") is None:
            raise ValueError(
                f"{what}: the model was compiled without a loss; "
                "call model.compile(optimizer=..., loss=...) with a loss"
            )

    # -- data ----------------------------------------------------------------------

    def _prepare_x(self, x: Any, what: str = "x") -> list[np.ndarray]:
        """``x`` as one float array per model input, each checked against the input's shape."""
        names, shapes, dtypes = self._input_specs()
        x = data_adapters.as_array(x)
        if isinstance(x, dict):
            missing = [name for name in names if name not in x]
            extra = sorted(set(x) - set(names))
            if missing or extra:
                raise ValueError(
                    f"{what} as a dict must have one entry per model input {names}; "
                    f"missing {missing}, unexpected {extra}"
                )
            parts = [x[name] for name in names]
        elif len(names) > 1:
            if not isinstance(x, (list, tuple)) or len(x) != len(names):
                raise ValueError(
                    f"Model {self.name!r} has {len(names)} inputs {names}: pass {what} as a list "
                    f"of {len(names)} arrays or a dict keyed by input name, received "
                    f"{type(x).__name__}"
                    + (f" of {len(x)}" if isinstance(x, (list, tuple)) else "")
                )
            parts = list(x)
        else:
            parts = [x]
        out = []
        for name, shape, dtype, part in zip(names, shapes, dtypes, parts, strict=True):
            label = what if len(names) == 1 else f"{what}[{name!r}]"
            arr = _as_float_array(data_adapters.as_array(part), label, dtype)
            if arr.ndim == 1 and (shape is None or len(shape) == 2):
                arr = arr.reshape(-1, 1)
            if shape is not None and (
                arr.ndim != len(shape)
                or any(
                    e is not None and e != a for e, a in zip(shape[1:], arr.shape[1:], strict=True)
                )
            ):
                raise ValueError(
                    f"Input {name!r} of model {self.name!r} is incompatible: it expects "
                    f"inputs of shape {tuple(shape)} (last dimension {shape[-1]}), received "
                    f"{label} of shape {arr.shape}"
                )
            out.append(arr)
        n = len(out[0])
        for arr in out:
            if len(arr) != n:
                raise ValueError(
                    f"Data cardinality is ambiguous: the inputs have {[len(a) for a in out]} "
                    f"samples ({names}). Make sure all arrays contain the same number of samples."
                )
        return out

    def _prepare_y(self, y: Any, n: int, what: str = "y") -> list[np.ndarray | None]:
        if y is None:
            raise ValueError(f"{what} is None: fit/evaluate need targets")
        plan = self._compile_plan()
        names = plan.names
        y = data_adapters.as_array(y)
        if isinstance(y, dict):
            unknown = sorted(set(y) - set(names))
            if unknown:
                raise ValueError(f"{what} has keys {unknown}; the model's outputs are {names}")
            parts = [y.get(name) for name in names]
        elif len(names) > 1:
            if not isinstance(y, (list, tuple)) or len(y) != len(names):
                raise ValueError(
                    f"Model {self.name!r} has {len(names)} outputs {names}: pass {what} as a list "
                    f"of {len(names)} arrays or a dict keyed by output name"
                )
            parts = list(y)
        else:
            parts = [y]
        out: list[np.ndarray | None] = []
        shapes, dtypes = self._output_shapes(), self._output_dtypes()
        for i, part in enumerate(parts):
            label = what if len(names) == 1 else f"{what}[{names[i]!r}]"
            if plan.losses[i] is None:
                out.append(None)
                continue
            if part is None:
                raise ValueError(f"{label} is missing: output {names[i]!r} has a loss")
            out.append(_target(data_adapters.as_array(part), n, label, shapes[i], dtypes[i],
                               plan.sparse[i]))  # fmt: skip
        return out

    def _prepare(
        self, x: Any, y: Any, sample_weight: Any, class_weight: Any = None, what: str = ""
    ) -> tuple[list[np.ndarray], list[np.ndarray | None], np.ndarray | None]:
        xs = self._prepare_x(x, what + "x")
        self._build_for(xs)
        n = len(xs[0])
        ys = self._prepare_y(y, n, what + "y")
        sw = None
        if sample_weight is not None:
            sw = _weights_array(data_adapters.as_array(sample_weight), n, what + "sample_weight")
        if class_weight is not None:
            if len(ys) != 1:
                raise ValueError("class_weight is only supported for models with a single output")
            cw = _class_weights(ys[0], class_weight)
            sw = cw if sw is None else sw * cw
        return xs, ys, sw

    def _prepare_batch(self, data: Any, class_weight: Any = None) -> Any:
        """One batch from a generator or a PyDataset: ``(xs, ys, sample_weight)``."""
        x, y, sw = data_adapters.unpack(data)
        if y is None:
            raise ValueError(
                "a training/evaluation batch must be (x, y) or (x, y, sample_weight); the "
                f"generator yielded {type(data).__name__} without targets"
            )
        return self._prepare(x, y, sw, class_weight, what="batch ")

    def _prepare_predict_batch(self, data: Any) -> Any:
        x, _, _ = data_adapters.unpack(data)
        xs = self._prepare_x(x, "batch x")
        self._build_for(xs)
        return xs, None, None

    def _build_for(self, xs: list[np.ndarray]) -> None:
        if not self.built:
            self._build_from_data(xs)

    def _adapter(
        self,
        x: Any,
        y: Any,
        sample_weight: Any,
        class_weight: Any,
        batch_size: int,
        shuffle: bool,
        steps: int | None,
        rng: Any = None,
        what: str = "",
    ) -> Any:
        if data_adapters.is_array_like(x):
            xs, ys, sw = self._prepare(x, y, sample_weight, class_weight, what=what)
            if len(xs[0]) == 0:
                raise ValueError(f"{what}x has no samples")
            return data_adapters.ArrayAdapter(xs, ys, sw, batch_size, shuffle, steps, rng)
        if y is not None or sample_weight is not None:
            raise ValueError(
                "`y` and `sample_weight` arguments are not supported when x is a generator, an "
                "iterable or a PyDataset: yield (x, y) or (x, y, sample_weight) batches instead"
            )
        adapter = data_adapters.get_adapter(
            x, lambda data: self._prepare_batch(data, class_weight), steps, shuffle
        )
        adapter.peek()  # the first batch builds the model before its weights are collected
        return adapter

    # -- steps ---------------------------------------------------------------------

    def _step_loss(
        self, xs: list[np.ndarray], ys: list, sw: np.ndarray | None, training: bool, plan: _Plan
    ) -> tuple[Any, list[float], list[np.ndarray]]:
        """The batch loss (a 0-d Value), each output's loss, and the predictions (NumPy)."""
        if not plan.multi:  # one output: the same steps without the per-output bookkeeping
            out = self._forward([_const(x) for x in xs], training, plan.fused_outputs)[0]
            fused = plan.fused[0]
            if fused is None:
                pred = out.data
                loss = plan.losses[0](ys[0], out, sw)
            else:
                if plan.needs_pred[0]:
                    with no_grad():
                        pred = plan.activations[0](out).data
                else:  # only the batch size is needed: skip the activation
                    pred = out.data
                loss = fused(ys[0], out, sw)
            if plan.weights[0] != 1.0:
                loss = loss * plan.weights[0]
            if self._penalized:
                for penalty in self.losses:
                    loss = loss + penalty
            return loss, _NO_LOSSES, [pred]
        outs = self._forward([_const(x) for x in xs], training, plan.fused_outputs)
        total = None
        per: list[float] = []
        preds: list[np.ndarray] = []
        for i, out in enumerate(outs):
            fn, fused = plan.losses[i], plan.fused[i]
            if fused is not None:
                if plan.needs_pred[i]:
                    with no_grad():
                        preds.append(plan.activations[i](out).data)
                else:  # only the batch size is needed: skip the activation
                    preds.append(out.data)
            else:
                preds.append(out.data)
            if fn is None:
                continue
            value = (fused or fn)(ys[i], out, sw)
            if plan.multi:
                per.append(float(value.data))
            if plan.weights[i] != 1.0:
                value = value * plan.weights[i]
            total = value if total is None else total + value
        if total is None:
            raise ValueError("no output of the model has a loss; give compile() a loss")
        if self._penalized:  # Keras adds regularization after the loss weights
            for penalty in self.losses:
                total = total + penalty
        return total, per, preds

    def _train_step(self, xs: list, ys: list, sw: Any, plan: _Plan, trainable: list) -> tuple:
        loss, per, preds = self._step_loss(xs, ys, sw, True, plan)
        value = float(loss.data)
        # as Keras: the step is taken even when the loss is NaN/inf (fit warns once);
        # TerminateOnNaN stops training at the end of such a batch
        if trainable and loss.requires_grad:
            grads = grad(loss, trainable)
            fast = getattr(self.optimizer, "_apply_known", None)
            if fast is not None:
                fast(grads, trainable)
            else:  # a user's optimizer with only Keras' apply_gradients
                self.optimizer.apply_gradients(list(zip(grads, trainable, strict=True)))
            for weight, constraint in self._constrained:
                _project(weight, constraint)
        return value, per, preds

    def _replayed_step(self, plan: _Plan, trainable: list) -> Any:
        """The replayed step (``replay.py``) for this fit, or None: planned once and kept
        while the layers, the optimizer, the compiled plan and the trainable list stay."""
        from tinygrad_mlp import replay
        from tinygrad_mlp.layers import _structure_version

        key = (_structure_version(), id(self.optimizer), id(plan), tuple(map(id, trainable)))
        cached = self.__dict__.get("_replay")
        if cached is None or cached[0] != key:
            step, reason = replay.plan_replay(self, plan, trainable)
            cached = (key, step, reason)
            self.__dict__["_replay"] = cached
        return cached[1]

    def _plan_regularization(self) -> list[Any]:
        """Once per fit/evaluate: do penalties join the loss, which weights are constrained,
        which are trained. The model's ``losses`` gather every held layer's penalties, so the
        model is the one place to ask; all this is kept until a layer changes (its weights,
        trainable flag, regularizers or held layers), so repeated short fits pay it once."""
        from tinygrad_mlp.layers import _structure_version

        version = _structure_version()
        cached = self.__dict__.get("_regularization_plan")
        if cached is None or cached[0] != version:
            cached = (version, self._has_penalties(), self._constrained_weights(),
                      self.trainable_weights)  # fmt: skip
            self.__dict__["_regularization_plan"] = cached
        _, self.__dict__["_penalized"], self.__dict__["_constrained"], trainable = cached
        return list(trainable)

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
        """Train for ``epochs`` passes over the data in mini-batches of ``batch_size``.

        ``x``/``y`` are arrays (a list or dict of them for several inputs/outputs),
        or ``x`` is a ``PyDataset``, a generator or an iterable of ``(x, y[, sw])``
        batches. ``batch_size=1`` is stochastic gradient descent,
        ``batch_size=len(x)`` batch gradient descent (default 32, as Keras).
        ``validation_split`` holds out the *last* fraction of the arrays (before
        shuffling). ``steps_per_epoch`` caps the batches per epoch (a generator
        then continues where the last epoch stopped). Returns a ``History`` whose
        ``.history`` maps ``loss``, each metric and their ``val_`` versions to
        per-epoch values. ``seed`` makes the shuffling reproducible. Every
        argument and the data are checked before the first weight changes.
        """
        from tinygrad_mlp.callbacks import CallbackList

        self._require_compiled("training the model")
        batch_size = _check_batch_size(batch_size)
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, received {epochs!r}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), received {validation_split!r}")
        _check_count("initial_epoch", initial_epoch, minimum=0)
        if steps_per_epoch is not None:
            _check_count("steps_per_epoch", steps_per_epoch, minimum=1)
        if validation_steps is not None:
            _check_count("validation_steps", validation_steps, minimum=1)
        if validation_batch_size is not None:
            validation_batch_size = _check_batch_size(validation_batch_size)
        if isinstance(validation_freq, int):
            val_epochs = None
            if validation_freq < 1:
                raise ValueError(f"validation_freq must be >= 1, received {validation_freq}")
        else:
            val_epochs = set(int(e) for e in validation_freq)
        rng = np.random.default_rng(seed) if seed is not None else np.random
        val = None
        if data_adapters.is_array_like(x):
            xs, ys, sw = self._prepare(x, y, sample_weight, class_weight)
            if validation_split and validation_data is None:
                split = int(math.floor(len(xs[0]) * (1.0 - float(validation_split))))
                if split == 0 or split == len(xs[0]):
                    raise ValueError(
                        f"validation_split={validation_split} leaves no training or no "
                        f"validation samples out of {len(xs[0])}"
                    )
                val = data_adapters.ArrayAdapter(
                    [a[split:] for a in xs], [None if b is None else b[split:] for b in ys],
                    _slice(sw, split, None), validation_batch_size or batch_size,
                )  # fmt: skip
                xs, ys = [a[:split] for a in xs], [None if b is None else b[:split] for b in ys]
                sw = _slice(sw, 0, split)
            if len(xs[0]) == 0:
                raise ValueError("fit() received no training samples")
            train = data_adapters.ArrayAdapter(xs, ys, sw, batch_size, shuffle, steps_per_epoch,
                                               rng)  # fmt: skip
        else:
            if validation_split:
                raise ValueError(
                    "validation_split is only supported for arrays; with a generator or a "
                    "PyDataset pass validation_data"
                )
            train = self._adapter(x, y, sample_weight, class_weight, batch_size, shuffle,
                                  steps_per_epoch)  # fmt: skip
        if validation_data is not None:
            val = self._validation_adapter(
                validation_data, validation_batch_size or batch_size, validation_steps
            )
        plan = self._compile_plan()
        verbose = _verbosity(verbose)
        cbs = CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self,
            epochs=epochs,
            steps=train.steps,
            verbose=verbose,
        )
        trainable = self._plan_regularization()
        replayed = self._replayed_step(plan, trainable)
        self.stop_training = False
        cbs.on_train_begin()
        epoch_logs: dict[str, float] = {}
        warned = False  # a loss that turns NaN/inf is said once per fit, never hidden
        batch_hooks = cbs.wants_train_batches
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            totals = _Totals(plan)
            for step, (xb, yb, swb) in enumerate(train.epoch()):
                if batch_hooks:
                    cbs.on_train_batch_begin(step)
                result = replayed and replayed.step(xb, yb, swb, self.optimizer)
                if result is None:
                    result = self._train_step(xb, yb, swb, plan, trainable)
                loss_value, per, preds = result
                if not warned and not math.isfinite(loss_value):
                    warned = True
                    warnings.warn(
                        f"the loss became {loss_value} at epoch {epoch + 1}, batch {step + 1}; "
                        "the weights now hold NaN/inf (as in Keras). Try a lower learning rate, "
                        "or callbacks=[TerminateOnNaN()] to stop when it happens.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                totals.add(loss_value, per, yb, preds, swb)
                if batch_hooks:
                    cbs.on_train_batch_end(step, totals.logs())
                    if self.stop_training:
                        break
            train.on_epoch_end()
            if totals.count == 0:  # the generator ran out before this epoch began
                break
            epoch_logs = totals.logs()
            if val is not None and (
                (val_epochs is None and (epoch + 1) % validation_freq == 0)
                or (val_epochs is not None and epoch + 1 in val_epochs)
            ):
                val_logs = self._evaluate_adapter(val, plan, cbs, chunked=not callbacks)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            epoch_logs = dict(sorted(epoch_logs.items()))  # Keras 3's order, so History's too
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training or getattr(train, "ran_out", False):
                break
        cbs.on_train_end(epoch_logs)
        return self.history

    def _validation_adapter(self, data: Any, batch_size: int, steps: int | None) -> Any:
        if isinstance(data, (tuple, list)):
            if len(data) not in (2, 3):
                raise ValueError(
                    "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                    f"sample_weight_val), received a {type(data).__name__} of {len(data)}"
                )
            vsw = data[2] if len(data) == 3 else None
            return self._adapter(data[0], data[1], vsw, None, batch_size, False, steps,
                                 what="validation_")  # fmt: skip
        return self._adapter(data, None, None, None, batch_size, False, steps)

    def _in_chunks(self, adapter: Any, allowed: bool) -> tuple[Any, int]:
        """The adapter, and how many batch_size batches each of its batches holds: arrays in
        inference go through in chunks of about PREDICT_CHUNK_ROWS rows when ``allowed`` (no
        callback of the user's watches each batch) and every layer maps each row on its own
        (far fewer Python steps; the progress bar still counts batch_size batches)."""
        if not (allowed and isinstance(adapter, data_adapters.ArrayAdapter)
                and self._rows_independent()):  # fmt: skip
            return adapter, 1
        per = max(1, PREDICT_CHUNK_ROWS // adapter.batch_size)
        rows = min(adapter.n, adapter.steps * adapter.batch_size)
        ys = None if adapter.ys is None else [None if b is None else b[:rows] for b in adapter.ys]
        chunked = data_adapters.ArrayAdapter([a[:rows] for a in adapter.xs], ys,
                                             _slice(adapter.sw, 0, rows),
                                             adapter.batch_size * per)  # fmt: skip
        return chunked, per

    def _evaluate_adapter(
        self, adapter: Any, plan: _Plan, cbs: Any = None, chunked: bool = False
    ) -> dict[str, float]:
        """Loss and metrics over the adapter's batches; ``chunked`` (no user callbacks to see
        each batch): arrays go through in chunks of about PREDICT_CHUNK_ROWS rows, as in
        predict. The loss is a per-sample mean either way (the same value up to float
        rounding); the progress bar still counts batch_size batches, as Keras shows."""
        totals = _Totals(plan)
        if cbs is not None:
            cbs.on_test_begin()
        adapter, per_chunk = self._in_chunks(adapter, chunked)
        with no_grad():
            for step, (xb, yb, swb) in enumerate(adapter.epoch()):
                first = step * per_chunk
                if cbs is not None:
                    cbs.on_test_batch_begin(first)
                loss, per, preds = self._step_loss(xb, yb, swb, False, plan)
                totals.add(float(loss.data), per, yb, preds, swb)
                if cbs is not None:
                    # a generator's adapter has no batch size: its batches are one each
                    last = first
                    if per_chunk > 1:
                        last = _last_batch(first, xb, adapter.batch_size // per_chunk)
                    cbs.on_test_batch_end(last, totals.logs())
        adapter.on_epoch_end()
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
        """Loss and metrics on the data: a float without metrics, else ``[loss, *metrics]``."""
        from tinygrad_mlp.callbacks import CallbackList

        self._require_compiled("evaluating the model")
        batch_size = _check_batch_size(batch_size)
        if steps is not None:
            _check_count("steps", steps, minimum=1)
        adapter = self._adapter(x, y, sample_weight, None, batch_size, False, steps)
        verbose = _verbosity(verbose)
        cbs = CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, steps=adapter.steps, verbose=verbose
        )
        self._plan_regularization()
        logs = self._evaluate_adapter(adapter, self._compile_plan(), cbs, chunked=not callbacks)
        return self._batch_result(logs, return_dict)

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
        xs, ys, sw = self._prepare(x, y, sample_weight, class_weight)
        plan = self._compile_plan()
        trainable = self._plan_regularization()
        loss, per, preds = self._train_step(xs, ys, sw, plan, trainable)
        totals = _Totals(plan)
        totals.add(loss, per, ys, preds, sw)
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
        xs, ys, sw = self._prepare(x, y, sample_weight)
        self._plan_regularization()
        adapter = data_adapters.ArrayAdapter(xs, ys, sw, len(xs[0]))
        logs = self._evaluate_adapter(adapter, self._compile_plan())
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
    ) -> Any:
        """The model's outputs for ``x`` (inference mode: no dropout, moving BN statistics).

        One array for a single output; a list (or a dict) of arrays for several.
        """
        from tinygrad_mlp.callbacks import CallbackList

        batch_size = _check_batch_size(batch_size)
        if data_adapters.is_array_like(x):
            xs = self._prepare_x(x)
            self._build_for(xs)
            adapter: Any = data_adapters.ArrayAdapter(xs, None, None, batch_size, False, steps)
        else:
            adapter = data_adapters.get_adapter(x, self._prepare_predict_batch, steps, False)
        if not self.built:
            self._require_built("predict()")
        verbose = _verbosity(verbose)
        cbs = CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, steps=adapter.steps, verbose=verbose
        )
        chunks: list[list[np.ndarray]] = []
        cbs.on_predict_begin()
        adapter, per = self._in_chunks(adapter, not callbacks)  # large chunks when no one watches
        with no_grad():
            for step, (xb, _, _) in enumerate(adapter.epoch()):
                first = step * per
                cbs.on_predict_batch_begin(first)
                outs = [v.data for v in self._forward([_const(a) for a in xb], False, ())]
                chunks.append(outs)
                logs = {"outputs": outs[0] if len(outs) == 1 else outs}
                cbs.on_predict_batch_end(_last_batch(first, xb, batch_size), logs)
        cbs.on_predict_end()
        names = self._output_names()
        if not chunks:
            raise ValueError("predict() received no samples")
        results = [
            chunks[0][i] if len(chunks) == 1 else np.concatenate([c[i] for c in chunks])
            for i in range(len(names))
        ]
        return self._pack_outputs(results)

    def predict_on_batch(self, x: Any) -> Any:
        """The outputs for one batch."""
        xs = self._prepare_x(x)
        return self.predict(xs if len(xs) > 1 else xs[0], batch_size=max(len(xs[0]), 1), verbose=0)

    def predict_proba(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> Any:
        """The old Keras alias of ``predict`` for probabilistic outputs."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_classes(self, x: Any, batch_size: int | None = None, verbose: Any = 0) -> Any:
        """Class indices, as the old Keras API: argmax over several outputs, else ``p > 0.5``.

        Shapes: ``(n,)`` for several outputs, ``(n, 1)`` of int32 for one sigmoid output.
        """
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")


def data_adapters_leaves(value: Any) -> list[Any]:
    """The non-None leaves of a loss / loss_weights argument (single, list or dict)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [v for v in value.values() if v is not None]
    if _is_collection(value):
        return [v for v in value if v is not None]
    return [value]


def _is_collection(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict))


def _target(y: Any, n: int, what: str, out_shape: Any, dtype: Any, sparse: bool) -> np.ndarray:
    """One output's targets, checked against the output's shape (labels for sparse losses)."""
    if sparse:
        arr = np.asarray(y)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{what} must hold integer class labels, received {arr.dtype}")
    else:
        arr = _as_float_array(y, what, dtype)
    if len(arr) != n:
        raise ValueError(
            f"Data cardinality is ambiguous: x has {n} samples but {what} has {len(arr)}. "
            "Make sure all arrays contain the same number of samples."
        )
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
        if arr.ndim == 1 and out_shape[-1] and out_shape[-1] > 1:
            hint = (
                " (integer labels need loss='sparse_categorical_crossentropy', or "
                "one-hot targets from to_categorical)"
            )
        raise ValueError(
            f"{what} has shape {arr.shape} but the model's output has shape {out_shape}{hint}"
        )
    return arr


class _Plan:
    """What compile() asked for, per output: loss, weight, fused logits form, metrics."""

    def __init__(self, model: Any, config: dict[str, Any], names: list[str]) -> None:
        from tinygrad_mlp import losses
        from tinygrad_mlp import metrics as metrics_module

        self.names = names
        k = len(names)
        self.multi = k > 1
        loss = config.get("loss")
        self.losses = [
            None if fn is None else losses.get(fn)
            for fn in _per_output(loss, names, "loss", lambda v: False)
        ]
        weights = config.get("loss_weights")
        if weights is None:
            self.weights = [1.0] * k
        elif isinstance(weights, (int, float, np.number)) and k == 1:
            self.weights = [float(weights)]
        elif isinstance(weights, (int, float, np.number)):
            raise ValueError(
                f"loss_weights for a model with {k} outputs must be a list or a dict, received "
                f"{weights!r}"
            )
        else:
            self.weights = [
                1.0 if w is None else float(w)
                for w in _per_output(weights, names, "loss_weights", lambda v: False)
            ]
        self.sparse = [_is_sparse(fn) for fn in self.losses]
        self.fused: list[Any] = []
        self.activations: list[Any] = []
        for i, fn in enumerate(self.losses):
            activation = model._output_activation(i) if fn is not None else None
            fused = _fused(fn, activation)
            self.fused.append(fused)
            self.activations.append(activation if fused is not None else None)
        self.fused_outputs = frozenset(i for i, f in enumerate(self.fused) if f is not None)
        self.loss_keys = (
            [f"{name}_loss" for name, fn in zip(names, self.losses, strict=True) if fn is not None]
            if self.multi
            else []
        )
        self.table: list[tuple[str, Any, bool, int]] = []
        taken = {"loss", *self.loss_keys}
        for weighted, given in (
            (False, config.get("metrics")),
            (True, config.get("weighted_metrics")),
        ):
            for i, entries in enumerate(self._metrics_per_output(given, names)):
                for entry in entries:
                    fn = metrics_module.get(entry, loss=self.losses[i])
                    key = fn.__name__ if not self.multi else f"{names[i]}_{fn.__name__}"
                    if key in taken:
                        if not weighted:
                            raise ValueError(f"metric {fn.__name__!r} is given twice to compile()")
                        key = "weighted_" + key
                    taken.add(key)
                    self.table.append((key, fn, weighted, i))
        self.needs_pred = [any(t[3] == i for t in self.table) for i in range(k)]

    @staticmethod
    def _metrics_per_output(given: Any, names: list[str]) -> list[list[Any]]:
        k = len(names)
        if given is None:
            return [[] for _ in names]
        if isinstance(given, str) or callable(given):
            given = [given]
        if isinstance(given, dict):
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise ValueError(f"metrics has keys {unknown}; the model's outputs are {names}")
            return [_as_list(given.get(name)) for name in names]
        given = list(given)
        if k == 1:
            if len(given) == 1 and isinstance(given[0], (list, tuple)):
                return [list(given[0])]
            return [given]
        if len(given) != k or not all(isinstance(g, (list, tuple, str)) or g is None
                                      for g in given):  # fmt: skip
            raise ValueError(
                f"For a model with multiple outputs, when providing the `metrics` argument as a "
                f"list, it should have as many entries as the model has outputs ({k}: {names}), "
                f"each a list of metrics, received {given!r}"
            )
        return [_as_list(g) for g in given]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _is_sparse(loss: Any) -> bool:
    from tinygrad_mlp import losses

    return isinstance(loss, losses.SparseCategoricalCrossentropy) or (
        getattr(loss, "name", "") == "sparse_categorical_crossentropy"
    )


def _fused(loss: Any, activation: Any) -> Any:
    """The logits form of ``loss`` when the output's activation can be folded into it."""
    from tinygrad_mlp import losses

    if loss is None or activation is None or not getattr(loss, "with_logits", None):
        return None
    if getattr(loss, "from_logits", True):
        return None
    name = getattr(activation, "__name__", "")
    if name == "sigmoid" and isinstance(loss, losses.BinaryCrossentropy):
        return loss.with_logits()
    if name == "softmax" and isinstance(
        loss, (losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy)
    ):
        return loss.with_logits()
    return None


def _slice(arr: np.ndarray | None, start: int, stop: int | None) -> np.ndarray | None:
    return None if arr is None else arr[start:stop]


def _check_count(what: str, value: Any, minimum: int) -> int:
    """An integer argument of fit: a clear ValueError before anything changes."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, received {value!r}")
    return int(value)


class _Totals:
    """Running sums over an epoch: the losses weighted by batch size, metrics per sample."""

    __slots__ = ("table", "count", "loss_sum", "sums", "weights", "stateful", "loss_keys",
                 "per_sums")  # fmt: skip

    def __init__(self, plan: _Plan) -> None:
        from tinygrad_mlp.metrics import Metric

        table = plan.table
        self.table = table
        self.loss_keys = plan.loss_keys
        self.per_sums = [0.0] * len(plan.loss_keys)
        self.count = 0
        self.loss_sum = 0.0
        self.sums = [0.0] * len(table)
        self.weights = [0.0] * len(table)
        self.stateful = [isinstance(fn, Metric) for _, fn, _, _ in table]
        for (_, fn, _, _), stateful in zip(table, self.stateful, strict=True):
            if stateful:  # an epoch (or an evaluation) starts from nothing, as in Keras
                fn.reset_state()

    def add(
        self,
        loss: float,
        per_output: list[float],
        ys: list[np.ndarray],
        preds: list[np.ndarray],
        sample_weight: np.ndarray | None,
    ) -> None:
        n = len(preds[0])
        self.count += n
        self.loss_sum += loss * n
        for i, value in enumerate(per_output):
            self.per_sums[i] += value * n
        for i, (_, fn, weighted, out) in enumerate(self.table):
            y_true, y_pred = ys[out], preds[out]
            if self.stateful[i]:  # Precision, AUC, ...: counts over the epoch, not a mean
                fn.update_state(y_true, y_pred, sample_weight if weighted else None)
                continue
            values = np.asarray(_raw(fn(y_true, y_pred)), dtype=np.float64)
            if values.size == 1 and n != 1:  # a callable that already averaged the batch
                self.sums[i] += float(values.reshape(())) * (
                    float(sample_weight.sum()) if weighted and sample_weight is not None else n
                )
                self.weights[i] += (
                    float(sample_weight.sum()) if weighted and sample_weight is not None else n
                )
            elif weighted and sample_weight is not None:
                self.sums[i] += float(values.reshape(n, -1).mean(axis=1) @ sample_weight)
                self.weights[i] += float(sample_weight.sum())
            else:  # the sum of the per-sample means, each over values.size / n entries
                self.sums[i] += float(values.sum()) * n / values.size if values.size else 0.0
                self.weights[i] += n

    def logs(self) -> dict[str, float]:
        count = max(self.count, 1)
        logs = {"loss": self.loss_sum / count}
        for key, total in zip(self.loss_keys, self.per_sums, strict=True):
            logs[key] = total / count
        for i, ((name, fn, _, _), s, w) in enumerate(
            zip(self.table, self.sums, self.weights, strict=True)
        ):
            if self.stateful[i]:
                value = fn.result()
                logs[name] = float(value) if np.ndim(value) == 0 else np.asarray(value).tolist()
            else:
                logs[name] = s / w if w else 0.0
        return dict(sorted(logs.items()))  # Keras 3 shows and keeps logs sorted by name
