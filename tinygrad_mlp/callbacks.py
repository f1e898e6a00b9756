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

import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "Progbar",
    "ProgbarLogger",
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
    """Keras' style: 4 decimals, scientific notation for tiny magnitudes."""
    value = _to_float(value)
    if isinstance(value, float):
        if value != 0.0 and math.isfinite(value) and abs(value) < 1e-3:
            return f"{value:.4e}"
        return f"{value:.4f}"
    return str(value)


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
    """Keras' text progress bar: ``25/25 [======] - 0s 2ms/step - loss: 0.4123``.

    ``Progbar(target, width=30, verbose=1, interval=0.05, stateful_metrics=None,
    unit_name='step')``. ``update(current, values)`` moves the bar to step
    ``current`` with ``values`` a list of ``(name, value)`` pairs. Values of
    names in ``stateful_metrics`` are shown as given; other values are averaged
    over the steps so far (weighted by the steps each covers).

    On a terminal (``stream.isatty()``) the line is redrawn in place with ``\\r``
    at most every ``interval`` seconds. Otherwise (a file, a pipe, a notebook,
    CI logs) nothing is printed until the bar finishes, then one line: no
    carriage returns. ``verbose=2`` prints only that final line, without the
    bar: ``25/25 - 0s - loss: 0.4123``. ``target=None`` means an unknown
    number of steps. ``stream`` defaults to ``sys.stdout`` at print time.
    """

    def __init__(
        self,
        target: int | None,
        width: int = 30,
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

    def _bar(self, current: int) -> str:
        if self.target is None or self.target <= 0:
            return ""
        fraction = min(current / self.target, 1.0)
        filled = int(self.width * fraction)
        if filled > 0:
            head = ">" if current < self.target else "="
            body = "=" * (filled - 1) + head
        else:
            body = ""
        return " [" + body + "." * (self.width - len(body)) + "]"

    def line(self, current: int, finalize: bool) -> str:
        """The text of the bar at step ``current`` (without ``\\r`` or newline)."""
        elapsed = time.time() - self._start
        per_step = elapsed / current if current else 0.0
        if self.verbose == 2:
            return f"{self._counter(current)} - {elapsed:.0f}s{self._metrics_text()}"
        text = self._counter(current) + self._bar(current)
        if finalize:
            text += f" - {elapsed:.0f}s {_format_time_per_unit(per_step, self.unit_name)}"
        elif self.target is not None:
            text += f" - ETA: {_format_eta(per_step * (self.target - current))}"
        else:
            text += f" - {elapsed:.0f}s {_format_time_per_unit(per_step, self.unit_name)}"
        return text + self._metrics_text()

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
            text = self.line(current, finalize=True)
            if self.verbose == 1 and _is_terminal(stream):
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
        text = self.line(current, finalize=False)
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
