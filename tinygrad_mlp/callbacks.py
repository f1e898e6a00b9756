"""Callbacks: code that ``fit``, ``evaluate`` and ``predict`` call at fixed moments.

Keras' design: a ``Callback`` has a hook per moment (train/epoch/batch begin and
end, and the same for test and predict); a ``CallbackList`` calls every hook of
every callback in order. ``fit`` drives them like this::

    callbacks = CallbackList(user_callbacks, add_history=True, add_progbar=verbose != 0,
                             model=model, epochs=epochs, steps=steps, verbose=verbose)
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps):
            callbacks.on_train_batch_begin(batch)
            ...  # one gradient step
            callbacks.on_train_batch_end(batch, {"loss": running_mean_loss, ...})
        callbacks.on_epoch_end(epoch, {"loss": ..., "val_loss": ..., ...})
        if model.stop_training:
            break
    callbacks.on_train_end()
    return model.history

Batch logs hold the running averages over the epoch so far; epoch logs hold the
epoch's final values, including the ``val_`` ones. A callback stops training by
setting ``model.stop_training = True``.

Callbacks never import ``models``: they only use the model's public methods
(``get_weights``, ``set_weights``, ``save``, ``save_weights``, ``optimizer``).
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "Progbar",
    "ProgbarLogger",
    "EarlyStopping",
    "TerminateOnNaN",
    "ModelCheckpoint",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
]

Logs = dict[str, Any] | None


# ----------------------------------------------------------------------------
# the base class and the list that drives callbacks


class Callback:
    """Base class: override the hooks you need; each receives a ``logs`` dict.

    Attributes: ``model`` (set by ``set_model``) and ``params`` (a dict with
    ``epochs``, ``steps`` and ``verbose``, set by ``set_params``).

    Example::

        class PrintLoss(Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(epoch, logs["loss"])
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    # training
    def on_train_begin(self, logs: Logs = None) -> None:
        pass

    def on_train_end(self, logs: Logs = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        pass

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        # Keras' legacy names on_batch_begin/on_batch_end still work when overridden.
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        pass

    # evaluation
    def on_test_begin(self, logs: Logs = None) -> None:
        pass

    def on_test_end(self, logs: Logs = None) -> None:
        pass

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        pass

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        pass

    # prediction
    def on_predict_begin(self, logs: Logs = None) -> None:
        pass

    def on_predict_end(self, logs: Logs = None) -> None:
        pass

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        pass

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        pass


class CallbackList:
    """Calls every hook of every callback, in order.

    ``CallbackList(callbacks=None, add_history=False, add_progbar=False,
    model=None, **params)``. With ``add_progbar`` a ``ProgbarLogger`` is put
    first (so its line is printed before messages from other callbacks) and
    with ``add_history`` a ``History`` last (so it records keys that other
    callbacks add to the epoch logs, such as ``learning_rate``), as in Keras;
    neither is added when one is already given. ``model.history`` is set to the
    ``History`` as soon as the model is known, so every callback can read it.
    """

    def __init__(
        self,
        callbacks: Iterable[Callback] | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks: list[Callback] = list(callbacks) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be Callback instances, received {type(cb).__name__}: {cb!r}"
                )
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger()
            self.callbacks.insert(0, self._progbar)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        self.model: Any = None
        self.params: dict[str, Any] = {}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    @property
    def wants_train_batches(self) -> bool:
        """True when some callback overrides a per-batch training hook; without one, ``fit``
        skips the calls and the running logs they would receive (the epoch's are the same)."""
        return any(
            type(cb).on_train_batch_begin is not Callback.on_train_batch_begin
            or type(cb).on_train_batch_end is not Callback.on_train_batch_end
            for cb in self.callbacks
        )

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        callback.set_params(self.params)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def set_model(self, model: Any) -> None:
        self.model = model
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = dict(params)
        for cb in self.callbacks:
            cb.set_params(self.params)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs: Logs = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Logs = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_train_batch_end", batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        self.on_train_batch_end(batch, logs)

    def on_test_begin(self, logs: Logs = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: Logs = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: Logs = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        self._call("on_predict_batch_end", batch, logs)


# ----------------------------------------------------------------------------
# History


def _to_float(value: Any) -> Any:
    """NumPy scalars and 0-d arrays become Python floats; anything else is kept."""
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return float(value)
    return value


class History(Callback):
    """Records the epoch logs: ``history[name]`` is the list of values per epoch.

    ``history.history`` maps every key of the epoch logs (``loss``, each metric,
    and their ``val_`` versions) to a list of floats, one per epoch;
    ``history.epoch`` lists the epoch indices (0-based, as Keras).
    ``fit`` returns this object and also stores it as ``model.history``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def set_model(self, model: Any) -> None:
        super().set_model(model)

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(_to_float(value))
        if self.model is not None:
            self.model.history = self

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"


# ----------------------------------------------------------------------------
# the progress bar


def _is_terminal(stream: Any) -> bool:
    """True when ``stream`` is an interactive terminal (``\\r`` redraws work)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _format_value(value: Any) -> str:
    """Keras 3's style: 4 decimals above 1e-3 in magnitude, else scientific (0 too)."""
    value = _to_float(value)
    if isinstance(value, float):
        if math.isfinite(value) and abs(value) <= 1e-3:
            return f"{value:.4e}"
        return f"{value:.4f}"
    return str(value)


_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def _format_time_per_unit(seconds: float, unit_name: str) -> str:
    """``2s/step``, ``2ms/step`` or ``80us/step`` as Keras prints it."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit_name}"
    return f"{seconds * 1e6:.0f}us/{unit_name}"


def _format_eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600) // 60:02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


class Progbar:
    """Keras 3's text progress bar: ``25/25 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - loss: 0.4123``.

    ``Progbar(target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
    unit_name='step')``. On a terminal the counter and the time are bold and the
    done part of the bar green, as Keras 3 draws it; elsewhere the text is plain.
    ``update(current, values)`` moves the bar to step ``current`` with ``values``
    a list of ``(name, value)`` pairs. Values of names in ``stateful_metrics``
    are shown as given; other values are averaged over the steps so far
    (weighted by the steps each covers).

    On a terminal (``stream.isatty()``) the line is redrawn in place with ``\\r``
    at most every ``interval`` seconds. Otherwise (a file, a pipe, a notebook,
    CI logs) nothing is printed until the bar finishes, then one line: no
    carriage returns. ``verbose=2`` prints only that final line, without the
    bar: ``25/25 - 0s - 2ms/step - loss: 0.4123``. ``target=None`` means an unknown
    number of steps. ``stream`` defaults to ``sys.stdout`` at print time.
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
        stream: Any = None,
    ) -> None:
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self._stream = stream
        self._values: dict[str, Any] = {}  # name -> value, or [weighted sum, count]
        self._order: list[str] = []
        self._seen = 0
        self._start = time.time()
        self._last_update = 0.0
        self._last_width = 0
        self._finalized = False

    @property
    def stream(self) -> Any:
        return self._stream if self._stream is not None else sys.stdout

    def _accumulate(self, current: int, values: Iterable[tuple[str, Any]]) -> None:
        for name, value in values:
            if name not in self._order:
                self._order.append(name)
            if name in self.stateful_metrics:
                self._values[name] = value
            else:
                steps = max(current - self._seen, 1)
                total = self._values.setdefault(name, [0.0, 0])
                total[0] += float(value) * steps
                total[1] += steps
        self._seen = current

    def _value_of(self, name: str) -> Any:
        stored = self._values[name]
        if name in self.stateful_metrics:
            return stored
        return stored[0] / max(stored[1], 1)

    def _metrics_text(self) -> str:
        return "".join(f" - {name}: {_format_value(self._value_of(name))}" for name in self._order)

    def _counter(self, current: int) -> str:
        if self.target is None:
            return f"{current}/Unknown"
        digits = len(str(self.target))
        return f"{current:{digits}d}/{self.target}"

    def _bar(self, current: int, color: bool = False) -> str:
        if self.target is None or self.target <= 0:
            return ""
        filled = int(self.width * min(current / self.target, 1.0))
        done, rest = "━" * filled, "━" * (self.width - filled)
        if color:
            return f" {_GREEN}{done}{_RESET}{_WHITE}{rest}{_RESET}"
        return f" {done}{rest}"

    def line(self, current: int, finalize: bool, color: bool = False) -> str:
        """The text of the bar at step ``current`` (without ``\\r`` or newline)."""
        elapsed = time.time() - self._start
        per_step = elapsed / current if current else 0.0
        unit = _format_time_per_unit(per_step, self.unit_name)
        if self.verbose == 2:
            return f"{self._counter(current)} - {elapsed:.0f}s - {unit}{self._metrics_text()}"
        if finalize or self.target is None:
            when = f"{elapsed:.0f}s"
        else:
            when = _format_eta(per_step * (self.target - current))
        counter = self._counter(current)
        if color:
            counter, when = f"{_BOLD}{counter}{_RESET}", f"{_BOLD}{when}{_RESET}"
        return f"{counter}{self._bar(current, color)} {when} {unit}{self._metrics_text()}"

    def update(
        self,
        current: int,
        values: Iterable[tuple[str, Any]] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Move the bar to step ``current``; ``finalize`` defaults to reaching ``target``."""
        if self._finalized:
            return
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._accumulate(current, values or ())
        if self.verbose == 0:
            self._finalized = finalize
            return
        stream = self.stream
        if finalize:
            terminal = self.verbose == 1 and _is_terminal(stream)
            text = self.line(current, finalize=True, color=terminal)
            if terminal:
                stream.write("\r" + text.ljust(self._last_width) + "\n")
            else:
                stream.write(text + "\n")
            stream.flush()
            self._finalized = True
            return
        if self.verbose != 1 or not _is_terminal(stream):
            return  # not a terminal: only the final line is printed
        now = time.time()
        if now - self._last_update < self.interval:
            return
        self._last_update = now
        text = self.line(current, finalize=False, color=True)
        stream.write("\r" + text.ljust(self._last_width))
        stream.flush()
        self._last_width = len(text)

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        """Advance the bar by ``n`` steps."""
        self.update(self._seen + n, values)


class ProgbarLogger(Callback):
    """Prints Keras' progress bar during ``fit``, ``evaluate`` and ``predict``.

    ``params['verbose']`` picks the style: 0 silent; 1 (or ``'auto'``) prints
    ``Epoch 3/10`` (when there is more than one epoch) then a bar updated every
    batch, finished as
    ``25/25 [==============================] - 0s 2ms/step - loss: 0.4123 - val_loss: 0.3900``;
    2 prints one line per epoch, ``25/25 - 0s - loss: 0.4123 - val_loss: 0.3900``.
    When standard output is not a terminal only the finished line of each epoch
    is printed (no ``\\r`` redraws). The logs are shown as given: ``fit``
    already passes running averages in batch logs and final values at epoch end.
    """

    def __init__(self, count_mode: str = "steps", stateful_metrics: Iterable[str] | None = None):
        super().__init__()
        if count_mode != "steps":
            raise ValueError(
                f"ProgbarLogger supports count_mode='steps' only, received {count_mode!r}"
            )
        self.stateful_metrics = set(stateful_metrics or ())
        self.progbar: Progbar | None = None
        self.verbose = 1
        self.epochs = 1
        self.target: int | None = None
        self._seen = 0
        self._called_in_fit = False

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" or verbose is True else int(verbose or 0)
        self.epochs = int(params.get("epochs") or 1)
        self.target = params.get("steps")

    def _start(self) -> None:
        self._seen = 0
        self.progbar = Progbar(target=self.target, verbose=self.verbose, stateful_metrics=None)

    def _show(self, batch: int, logs: Logs, finalize: bool = False) -> None:
        if self.progbar is None:
            self._start()
        assert self.progbar is not None
        self._seen = batch + 1
        self.progbar.stateful_metrics.update((logs or {}).keys())  # logs are already averages
        values = [(k, v) for k, v in (logs or {}).items() if k not in ("batch", "size")]
        self.progbar.update(self._seen, values, finalize=finalize or None)

    def _finish(self, logs: Logs) -> None:
        if self.progbar is None or self.verbose == 0:
            return
        if self.progbar.target is None:
            self.progbar.target = self._seen
        self._show(max(self._seen - 1, 0), logs, finalize=True)
        self.progbar = None

    # fit
    def on_train_begin(self, logs: Logs = None) -> None:
        self._called_in_fit = True

    def on_train_end(self, logs: Logs = None) -> None:
        self._called_in_fit = False

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self._start()
        if self.verbose and self.epochs > 1:
            stream = sys.stdout
            stream.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            stream.flush()

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.verbose:
            # the last batch is drawn by on_epoch_end, with the validation values
            finalize = False
            if self.target is not None and batch + 1 >= self.target:
                self._seen = batch + 1
                return
            self._show(batch, logs, finalize)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self.verbose:
            self._finish(logs)

    # evaluate / predict called by the user (not fit's own validation pass)
    def on_test_begin(self, logs: Logs = None) -> None:
        if not self._called_in_fit:
            self._start()

    def on_test_batch_end(self, batch: int, logs: Logs = None) -> None:
        if not self._called_in_fit and self.verbose:
            if self.target is not None and batch + 1 >= self.target:
                self._seen = batch + 1
                return
            self._show(batch, logs)

    def on_test_end(self, logs: Logs = None) -> None:
        if not self._called_in_fit and self.verbose:
            self._finish(logs)

    def on_predict_begin(self, logs: Logs = None) -> None:
        self._start()

    def on_predict_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.verbose:
            if self.target is not None and batch + 1 >= self.target:
                self._seen = batch + 1
                return
            self._show(batch, None)

    def on_predict_end(self, logs: Logs = None) -> None:
        if self.verbose:
            self._finish(None)


# ----------------------------------------------------------------------------
# shared helpers for callbacks that watch a logged quantity

_MAX_WORDS = ("acc", "auc", "precision", "recall", "f1", "r2")


def _resolve_mode(mode: str, monitor: str, owner: str) -> str:
    """'min' or 'max'; ``'auto'`` is 'max' for accuracy-like names, else 'min'."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner} mode must be one of 'auto', 'min', 'max', received {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    return "max" if any(word in name for word in _MAX_WORDS) else "min"


def _missing_key_message(owner: str, monitor: str, logs: Logs) -> str:
    available = ", ".join(sorted(logs or {})) or "(none)"
    hint = ""
    if monitor.startswith("val_"):
        hint = " (val_ values need validation_data or validation_split in fit)"
    return (
        f"{owner} is monitoring {monitor!r}, which is not in the logs{hint}. "
        f"Available keys: {available}"
    )


def _get_lr(model: Any, owner: str) -> float:
    """The optimizer's current learning rate as a float (a schedule is evaluated)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise AttributeError(
            f"{owner} needs a compiled model whose optimizer has a 'learning_rate' attribute, "
            f"received optimizer {optimizer!r}"
        )
    lr = optimizer.learning_rate
    if callable(lr):
        lr = lr(getattr(optimizer, "iterations", 0))
    return float(lr)


def _set_lr(model: Any, value: float, owner: str) -> None:
    optimizer = model.optimizer
    # the optimizer's property evaluates a schedule, so look at what it stores too
    stored = getattr(optimizer, "_learning_rate", optimizer.learning_rate)
    if callable(stored) or callable(optimizer.learning_rate):
        raise TypeError(
            f"{owner} cannot change the learning rate of an optimizer that uses a schedule "
            f"({stored!r}); give the optimizer a float learning_rate instead"
        )
    optimizer.learning_rate = float(value)


# ----------------------------------------------------------------------------
# EarlyStopping


class EarlyStopping(Callback):
    """Stops training when the monitored quantity has stopped improving.

    An epoch improves on the best value so far when
    ``current < best - min_delta`` (mode 'min') or ``current > best + min_delta``
    (mode 'max'); ``mode='auto'`` means 'max' for accuracy-like names
    (``accuracy``, ``val_binary_accuracy``, ``auc``...) and 'min' otherwise.
    After ``patience`` epochs without improvement, ``model.stop_training`` is set.
    With ``baseline``, training also stops when the quantity has not beaten the
    baseline within ``patience`` epochs. Epochs before ``start_from_epoch`` are
    ignored (a warm-up). With ``restore_best_weights`` the model gets back the
    weights of its best epoch when training ends (Keras 3's behaviour: also when
    every epoch ran). After training, ``stopped_epoch`` (0 if it never stopped)
    and ``best_epoch`` are 0-based epoch indices, as in Keras.

    Example: ``EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        if patience < 0:
            raise ValueError(f"EarlyStopping patience must be >= 0, received {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0

    def _is_improvement(self, current: float, reference: float) -> bool:
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def get_monitor_value(self, logs: Logs) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                _missing_key_message("EarlyStopping", self.monitor, logs),
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return float(value)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # something to restore even if no epoch ever improves on the baseline
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, float(self.baseline)):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


# ----------------------------------------------------------------------------
# TerminateOnNaN


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss, dtype=np.float64).reshape(-1)[0])
        if not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss {loss}, terminating training")
            self.model.stop_training = True


# ----------------------------------------------------------------------------
# ModelCheckpoint


class ModelCheckpoint(Callback):
    """Saves the model (or only its weights) at the end of every epoch.

    ``filepath`` may hold format fields: ``{epoch:02d}`` (1-based, as Keras) and
    any key of the epoch logs, e.g. ``'ckpt-{epoch:02d}-{val_loss:.2f}.tgm'``.
    With ``save_best_only`` the file is written only when the monitored
    quantity improves (``mode`` as in ``EarlyStopping``; ``initial_value_threshold``
    is the value to beat first). Calls ``model.save(path)``, or
    ``model.save_weights(path)`` when ``save_weights_only``. Missing folders are
    created. ``best`` holds the best value seen.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise ValueError(
                f"ModelCheckpoint supports save_freq='epoch' only, received {save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.save_freq = save_freq
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = math.inf if self.mode == "min" else -math.inf

    def _improved(self, current: float) -> bool:
        return current < self.best if self.mode == "min" else current > self.best

    def _get_file_path(self, epoch: int, logs: Logs) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError) as error:
            available = ", ".join(["epoch", *sorted(logs or {})])
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} uses the field {error}, "
                f"which is not available; fields available: {available}"
            ) from None

    def _save(self, path: str) -> None:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        path = self._get_file_path(epoch, logs)
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: saving model to {path}")
            self._save(path)
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                _missing_key_message("ModelCheckpoint", self.monitor, logs)
                + "; skipping the save (save_best_only=True)",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        current = float(value)
        if self._improved(current):
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} "
                    f"to {current:.5f}, saving model to {path}"
                )
            self.best = current
            self._save(path)
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")


# ----------------------------------------------------------------------------
# learning-rate callbacks


def _accepts_two_arguments(fn: Callable) -> bool:
    try:
        inspect.signature(fn).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins): assume Keras' form
        return True
    return True


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch: ``lr = schedule(epoch, lr)``.

    ``schedule`` receives the 0-based epoch index and the current learning rate
    (a one-argument ``schedule(epoch)`` works too) and returns the new one,
    which is stored on ``model.optimizer.learning_rate``. The epoch logs get a
    ``learning_rate`` entry, so ``history.history['learning_rate']`` shows it.

    Example: ``LearningRateScheduler(lambda epoch, lr: lr * 0.9)``.
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler expects a callable schedule(epoch, lr), "
                f"received {schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        lr = _get_lr(self.model, "LearningRateScheduler")
        if _accepts_two_arguments(self.schedule):
            new_lr = self.schedule(epoch, lr)
        else:
            new_lr = self.schedule(epoch)  # Keras' old one-argument form
        try:
            new_lr = float(new_lr)
        except (TypeError, ValueError):
            raise ValueError(
                f"LearningRateScheduler's schedule must return a number, received {new_lr!r}"
            ) from None
        if not math.isfinite(new_lr):
            raise ValueError(
                f"LearningRateScheduler's schedule returned {new_lr} at epoch {epoch}; "
                "expected a finite number"
            )
        _set_lr(self.model, new_lr, "LearningRateScheduler")
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new_lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model, "LearningRateScheduler")


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when a quantity stops improving.

    An epoch improves when ``current < best - min_delta`` (mode 'min') or
    ``current > best + min_delta`` (mode 'max'). After ``patience`` epochs
    without improvement: ``lr <- max(lr * factor, min_lr)``, then ``cooldown``
    epochs pass before waiting starts again. The epoch logs get a
    ``learning_rate`` entry.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(
                f"ReduceLROnPlateau factor must be in (0, 1) so it reduces the rate, "
                f"received {factor}"
            )
        if patience < 0 or cooldown < 0 or min_lr < 0:
            raise ValueError(
                "ReduceLROnPlateau expects patience, cooldown and min_lr >= 0, received "
                f"patience={patience}, cooldown={cooldown}, min_lr={min_lr}"
            )
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor, "ReduceLROnPlateau")
        self.min_delta = abs(float(min_delta))
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs if logs is not None else {}
        lr = _get_lr(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = lr
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                _missing_key_message("ReduceLROnPlateau", self.monitor, logs),
                RuntimeWarning,
                stacklevel=2,
            )
            return
        current = float(value)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait >= self.patience and lr > self.min_lr:
            new_lr = max(lr * self.factor, self.min_lr)
            _set_lr(self.model, new_lr, "ReduceLROnPlateau")
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0


# ----------------------------------------------------------------------------
# CSVLogger and LambdaCallback


def _csv_value(value: Any) -> Any:
    value = _to_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(str(v) for v in np.ravel(value)) + "]"
    return value


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` (0-based, as Keras) then the logs.

    The columns are ``epoch`` and the sorted keys of the first epoch's logs;
    a key missing in a later epoch is written as ``NA``. With ``append=True``
    rows are added to an existing file (its header is not repeated).

    Example::

        epoch,loss,val_loss
        0,0.6931,0.6850
        1,0.6502,0.6477
    """

    def __init__(
        self, filename: str | os.PathLike, separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self.writer: Any = None
        self.csv_file: Any = None
        self.append_header = True

    def on_train_begin(self, logs: Logs = None) -> None:
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not bool(f.readline().strip())
            mode = "a"
        else:
            mode = "a" if self.append else "w"
        folder = os.path.dirname(self.filename)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.keys = None
        self.writer = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self.csv_file is None:
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(
                self.csv_file,
                fieldnames=["epoch", *self.keys],
                delimiter=self.sep,
                extrasaction="ignore",
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update({key: _csv_value(logs[key]) if key in logs else "NA" for key in self.keys})
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None


class LambdaCallback(Callback):
    """A callback made of plain functions, for quick one-off hooks.

    ``LambdaCallback(on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
    on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None, **kwargs)``
    where epoch hooks take ``(epoch, logs)``, batch hooks ``(batch, logs)`` and
    train hooks ``(logs)``. Any other hook name (``on_test_end=...``,
    ``on_batch_end=...``) can be given as a keyword.

    Example: ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs['loss']))``.
    """

    _HOOKS = (
        "on_train_begin on_train_end on_epoch_begin on_epoch_end on_train_batch_begin "
        "on_train_batch_end on_batch_begin on_batch_end on_test_begin on_test_end "
        "on_test_batch_begin on_test_batch_end on_predict_begin on_predict_end "
        "on_predict_batch_begin on_predict_batch_end"
    ).split()

    def __init__(
        self,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_begin: Callable | None = None,
        on_train_end: Callable | None = None,
        on_train_batch_begin: Callable | None = None,
        on_train_batch_end: Callable | None = None,
        **kwargs: Callable,
    ) -> None:
        super().__init__()
        given = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
            **kwargs,
        )
        for name, fn in given.items():
            if name not in self._HOOKS:
                raise TypeError(
                    f"LambdaCallback got an unknown hook {name!r}; valid hooks: "
                    + ", ".join(self._HOOKS)
                )
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback {name} must be callable, received {fn!r}")
            setattr(self, name, fn)
