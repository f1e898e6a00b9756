"""Optimizers: turn gradients into weight updates, with Keras 3's rules and defaults.

``apply_gradients([(grad, var), ...])`` updates each ``var.data`` **in place**
(no new arrays on the hot path) and counts ``iterations``. Slots (momentum,
moments) are kept per variable, in the order the variables are first given.
``learning_rate`` is a float or a schedule ``lr(step)`` called with the number
of steps already taken; callbacks may set it.

Rules (g the gradient, t the step counted from 1):

* SGD: ``w -= lr g``; with momentum ``v = m v - lr g; w += v``;
  Nesterov ``w += m v - lr g`` (with the new v).
* Adagrad: ``a += g^2; w -= lr g / sqrt(a + eps)``.
* RMSprop: ``s = rho s + (1 - rho) g^2; w -= lr g / sqrt(s + eps)``
  (``centered`` subtracts the squared mean gradient; ``momentum`` accumulates the step).
* Adam: ``m += (1 - b1)(g - m); v += (1 - b2)(g^2 - v);
  w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``.
* Nadam: Adam with Nesterov momentum and Keras' momentum schedule
  ``u_t = b1 (1 - 0.5 * 0.96^t)``.

>>> import numpy as np
>>> from tinygrad_mlp.engine import Value
>>> w = Value(np.array([1.0]))
>>> SGD(0.1).apply_gradients([(np.array([2.0]), w)])
>>> w.data
array([0.8])
"""

from __future__ import annotations

import math
import sys as _sys
import types as _types
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import _fused
from tinygrad_mlp._registry import Configurable, Registry
from tinygrad_mlp.engine import Value, grad

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "Nadam",
    "Adamax",
    "Adadelta",
    "Ftrl",
    "Lion",
    "schedules",
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "InverseTimeDecay",
    "StepDecay",
    "PolynomialDecay",
    "CosineDecay",
    "get",
    "serialize",
    "deserialize",
]


# ----------------------------------------------------------------------------
# learning-rate schedules


class LearningRateSchedule(Configurable, ABC):
    """A learning rate that depends on the step: ``schedule(step) -> float``.

    Subclasses list their constructor arguments in ``_config_keys``; ``get_config``
    (and so saving and ``repr``) reads them back from the attributes of those names.
    """

    _config_keys: tuple[str, ...] = ()

    @abstractmethod
    def __call__(self, step: int) -> float:
        """The learning rate at optimizer step ``step``."""

    def get_config(self) -> dict:
        return {k: getattr(self, k) for k in self._config_keys}


def _check_decay_steps(owner: str, decay_steps: int) -> int:
    if decay_steps <= 0:
        raise ValueError(f"{owner} expects decay_steps > 0, received {decay_steps}")
    return decay_steps


class _StepFractionDecay(LearningRateSchedule):
    """What exponential and inverse-time decay share: the progress
    ``p = step / decay_steps``, floored when ``staircase``."""

    _config_keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase")
    _rule = ""  # the class errors name (StepDecay's are ExponentialDecay's)

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_decay_steps(self._rule, decay_steps)
        self.decay_rate = float(decay_rate)
        self.staircase = bool(staircase)

    def _progress(self, step: int) -> float:
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p


class ExponentialDecay(_StepFractionDecay):
    """lr(step) = initial_learning_rate * decay_rate ^ (step / decay_steps)
    (the exponent floored when ``staircase``)."""

    _rule = "ExponentialDecay"

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class StepDecay(ExponentialDecay):
    """The classic step decay: multiply the rate by ``drop`` every ``steps_per_drop`` steps,
    lr(step) = initial_learning_rate * drop ^ floor(step / steps_per_drop)."""

    def __init__(
        self, initial_learning_rate: float, steps_per_drop: int, drop: float = 0.5
    ) -> None:
        super().__init__(initial_learning_rate, steps_per_drop, drop, staircase=True)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "steps_per_drop": self.decay_steps,
            "drop": self.decay_rate,
        }


class InverseTimeDecay(_StepFractionDecay):
    """lr(step) = initial_learning_rate / (1 + decay_rate * step / decay_steps)."""

    _rule = "InverseTimeDecay"

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[1] while step <= boundaries[1], ...,
    values[-1] after the last boundary."""

    _config_keys = ("boundaries", "values")

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "PiecewiseConstantDecay expects one more value than boundaries, received "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        if list(boundaries) != sorted(boundaries):
            raise ValueError(
                f"PiecewiseConstantDecay expects increasing boundaries, received {boundaries}"
            )
        self.boundaries = list(boundaries)
        self.values = [float(v) for v in values]

    def __call__(self, step: int) -> float:
        for b, v in zip(self.boundaries, self.values, strict=False):
            if step <= b:
                return v
        return self.values[-1]


class PolynomialDecay(LearningRateSchedule):
    """lr(step) = (initial - end) (1 - s / decay_steps)^power + end, s = min(step, decay_steps)
    (with ``cycle`` the horizon restarts at the next multiple of decay_steps)."""

    _config_keys = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle")

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
    ) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_decay_steps("PolynomialDecay", decay_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.power = float(power)
        self.cycle = bool(cycle)

    def __call__(self, step: int) -> float:
        horizon = self.decay_steps
        if self.cycle:
            horizon *= max(1, math.ceil(step / self.decay_steps))
        else:
            step = min(step, horizon)
        fraction = 1.0 - step / horizon
        span = self.initial_learning_rate - self.end_learning_rate
        return span * fraction**self.power + self.end_learning_rate


class CosineDecay(LearningRateSchedule):
    """lr(step) = initial ((1 - alpha) (1 + cos(pi s / decay_steps)) / 2 + alpha),
    s = min(step, decay_steps): a half cosine from ``initial`` down to ``alpha * initial``."""

    _config_keys = ("initial_learning_rate", "decay_steps", "alpha")

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = _check_decay_steps("CosineDecay", decay_steps)
        self.alpha = float(alpha)

    def __call__(self, step: int) -> float:
        s = min(step, self.decay_steps)
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


_SCHEDULES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        StepDecay,
        InverseTimeDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        CosineDecay,
    )
}


# ----------------------------------------------------------------------------
# the optimizer base


class Optimizer(ABC):
    """Base class: learning rate, clipping, weight decay, slots and state live here.

    A subclass states only its rule: its slots in ``_slot_names``, its own
    hyperparameters in ``_config_keys`` (``get_config`` adds them after the
    base's), and ``_update(var, grad, slots, scratch, lr)`` acting in place on ``var``.
    """

    _slot_names: tuple[str, ...] = ()
    _config_keys: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set, received "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        for what, c in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            if c is not None and not c > 0:
                raise ValueError(f"{what} must be > 0, received {what}={c}")
        if weight_decay is not None and not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, received weight_decay={weight_decay}")
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._variables: list[Value] = []
        self._index: dict[int, int] = {}
        self._slots: list[dict[str, np.ndarray]] = []
        self._scratch: list[np.ndarray] = []
        self._pending: dict[str, np.ndarray] = {}

    # -- learning rate ----------------------------------------------------------

    @property
    def learning_rate(self) -> float:
        """The rate for the next step (a schedule is evaluated at ``iterations``)."""
        lr = self._learning_rate
        if callable(lr):
            value = float(lr(self.iterations))
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"the learning-rate schedule {lr!r} returned {value} at step "
                    f"{self.iterations}; a learning rate is a finite number >= 0"
                )
            return value
        return lr

    @learning_rate.setter
    def learning_rate(self, value: float | Callable[[int], float]) -> None:
        if callable(value):
            self._learning_rate = value
            return
        if isinstance(value, (str, bool)):
            raise TypeError(
                f"learning_rate must be a number or a schedule callable with the step, "
                f"received {value!r}"
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"learning_rate must be a number or a schedule callable with the step, "
                f"received {value!r}"
            ) from None
        if not value >= 0 or not math.isfinite(value):
            raise ValueError(f"learning_rate must be a finite number >= 0, received {value}")
        self._learning_rate = value

    lr = learning_rate  # Keras 2 spelling

    # -- variables and slots ----------------------------------------------------

    def build(self, variables: Iterable[Value]) -> None:
        """Register variables (in order) and create their slots; later ones are appended."""
        for var in variables:
            if id(var) in self._index:
                continue
            data = var.data
            if type(data) is float:
                raise TypeError(
                    f"{type(self).__name__} updates tensor Values in place; received a scalar "
                    f"Value {var!r} (use tensor weights, or update scalars by hand)"
                )
            i = len(self._variables)
            slots = {}
            for s in self._slot_names:
                key = f"{s}_{i}"
                if key in self._pending:
                    arr = np.asarray(self._pending[key], dtype=data.dtype)
                    if arr.shape != data.shape:
                        raise ValueError(
                            f"optimizer state {key!r} has shape {arr.shape}, but variable {i} "
                            f"({var.label or 'unnamed'}) has shape {data.shape}"
                        )
                    slots[s] = arr.copy()
                else:
                    slots[s] = self._initial_slot(s, data)
            # registered only once every slot is known to fit
            for s in self._slot_names:
                self._pending.pop(f"{s}_{i}", None)
            self._index[id(var)] = i
            self._variables.append(var)
            self._slots.append(slots)
            self._scratch.append(np.empty_like(data))

    def _initial_slot(self, name: str, data: np.ndarray) -> np.ndarray:
        return np.zeros_like(data)

    @property
    def variables(self) -> list[Value]:
        """The variables this optimizer has updated, in order first given."""
        return list(self._variables)

    # -- the step ---------------------------------------------------------------

    def _clip(self, pairs: list[tuple[np.ndarray, Value]]) -> list[tuple[np.ndarray, Value]]:
        if self.clipvalue is not None:
            c = self.clipvalue
            return [(np.clip(g, -c, c), v) for g, v in pairs]
        if self.clipnorm is not None:
            out = []
            for g, v in pairs:
                norm = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))
                out.append((g * (self.clipnorm / norm) if norm > self.clipnorm else g, v))
            return out
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g, _ in pairs))
            if norm > self.global_clipnorm:
                scale = self.global_clipnorm / norm
                return [(g * scale, v) for g, v in pairs]
        return pairs

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Value]]) -> None:
        """One step: update every ``var.data`` in place from its gradient; ``iterations += 1``.

        Pairs whose gradient is ``None`` are skipped (the variable got no gradient).
        """
        pairs = []
        for g, var in grads_and_vars:
            if g is None:
                continue
            data = var.data
            g = np.asarray(g)
            if g.shape != data.shape:
                raise ValueError(
                    f"gradient of shape {g.shape} does not match variable "
                    f"{var.label or ''} of shape {data.shape}"
                )
            if g.dtype != data.dtype:
                g = g.astype(data.dtype)
            pairs.append((g, var))
        pairs = self._clip(pairs)
        self.build(v for _, v in pairs)
        lr = self.learning_rate
        self._before_step()
        decay = lr * self.weight_decay if self.weight_decay else 0.0
        for g, var in pairs:
            i = self._index[id(var)]
            if decay:
                var.data *= 1.0 - decay  # decoupled weight decay: w -= lr wd w, before the step
            self._update(var.data, g, self._slots[i], self._scratch[i], lr)
        self.iterations += 1

    def _apply_known(self, grads: list[Any], variables: list[Value]) -> None:
        """The trainer's step: ``apply_gradients(zip(grads, variables))`` with the same list of
        variables as the step before (``fit`` passes one list for the whole run), so the
        per-pair checks and the slot lookups are done once; the arithmetic is the same."""
        plan = self.__dict__.get("_known_plan")
        if plan is None or plan[0] is not variables or len(plan[1]) != len(variables):
            if self.clipnorm or self.clipvalue or self.global_clipnorm or self.weight_decay:
                self.apply_gradients(zip(grads, variables, strict=True))
                return
            self.build(variables)
            plan = (variables, [self._index[id(v)] for v in variables],
                    [(v.data.shape, v.data.dtype) for v in variables])  # fmt: skip
            self.__dict__["_known_plan"] = plan
        _, indices, specs = plan
        for g, (shape, dtype) in zip(grads, specs, strict=True):
            if g is None or type(g) is not np.ndarray or g.shape != shape or g.dtype != dtype:
                self.apply_gradients(zip(grads, variables, strict=True))  # the careful path
                return
        lr = self.learning_rate
        self._before_step()
        slots, scratch, update = self._slots, self._scratch, self._update
        for g, var, i in zip(grads, variables, indices, strict=True):
            update(var.data, g, slots[i], scratch[i], lr)
        self.iterations += 1

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Value]) -> None:
        """Keras 3's spelling: ``apply(grads, variables)`` = ``apply_gradients(zip(...))``."""
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"apply expects one gradient per variable, received {len(grads)} gradients "
                f"for {len(trainable_variables)} variables"
            )
        self.apply_gradients(zip(grads, trainable_variables, strict=True))

    def minimize(self, loss: Value, var_list: Sequence[Value]) -> None:
        """Differentiate ``loss`` with respect to ``var_list`` and apply one step."""

        grads = grad(loss, list(var_list))
        self.apply_gradients(zip(grads, var_list, strict=True))

    def _before_step(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Hook for per-step quantities shared by all variables (Nadam's momentum product)."""

    @abstractmethod
    def _update(
        self, w: np.ndarray, g: np.ndarray, slots: dict, buf: np.ndarray, lr: float
    ) -> None:
        """Update ``w`` in place from its gradient ``g`` (the optimizer's rule)."""

    # -- config and state -------------------------------------------------------

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        elif callable(lr):
            lr = self.learning_rate  # a plain function cannot be saved: keep its current value
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
            **{k: getattr(self, k) for k in self._config_keys},
        }

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            sched = _SCHEDULES.get(lr.get("class_name"))
            if sched is None:
                raise ValueError(
                    f"Unknown learning rate schedule {lr.get('class_name')!r}; valid ones are "
                    f"{', '.join(sorted(_SCHEDULES))}"
                )
            config["learning_rate"] = sched.from_config(lr.get("config", {}))
        return cls(**config)

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything needed to resume: ``iterations`` and ``<slot>_<variable index>`` arrays."""
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for i, slots in enumerate(self._slots):
            for s, arr in slots.items():
                state[f"{s}_{i}"] = arr.copy()
        state.update(self._extra_state())
        for k, arr in self._pending.items():
            state.setdefault(k, np.array(arr))
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore ``get_state()``; slots of variables not yet seen wait for ``build``."""
        state = dict(state)
        if "iterations" in state:
            self.iterations = int(np.asarray(state.pop("iterations")))
        self._set_extra_state(state)
        for key, arr in state.items():
            name, _, idx = key.rpartition("_")
            if name not in self._slot_names or not idx.isdigit():
                raise ValueError(
                    f"{type(self).__name__} has no state {key!r}; expected 'iterations' or "
                    f"'<slot>_<index>' with slot in {list(self._slot_names)}"
                )
            i = int(idx)
            if i < len(self._slots):
                target = self._slots[i][name]
                arr = np.asarray(arr)
                if arr.shape != target.shape:
                    raise ValueError(
                        f"optimizer state {key!r} has shape {arr.shape}, expected {target.shape}"
                    )
                target[...] = arr
            else:
                self._pending[key] = np.asarray(arr)

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_extra_state(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional
        """Pop and apply optimizer-wide entries of ``state``."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------
# the optimizers


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum.

    ``v = momentum v - lr g;  w += v``  (Nesterov: ``w += momentum v - lr g``).
    """

    _slot_names = ("momentum",)
    _config_keys = ("momentum", "nesterov")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "SGD",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD expects momentum in [0, 1], received momentum={momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        if self.momentum == 0.0:
            self._slot_names = ()

    def _update(self, w, g, slots, buf, lr):
        m = self.momentum
        if _fused.sgd(w, g, slots.get("momentum"), lr, m, self.nesterov):
            return  # the passes below as one compiled loop (numba installed): the same bits
        np.multiply(g, lr, out=buf)  # lr g
        if m == 0.0:
            w -= buf
            return
        v = slots["momentum"]
        v *= m
        v -= buf
        if self.nesterov:
            w -= buf
            np.multiply(v, m, out=buf)
            w += buf
        else:
            w += v


class Adagrad(Optimizer):
    """Per-parameter rates shrinking with the summed squared gradients.

    ``a += g^2;  w -= lr g / sqrt(a + eps)``, a starting at ``initial_accumulator_value``.
    """

    _slot_names = ("accumulator",)
    _config_keys = ("initial_accumulator_value", "epsilon")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adagrad",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)

    def _initial_slot(self, name, data):
        return np.full_like(data, self.initial_accumulator_value)

    def _update(self, w, g, slots, buf, lr):
        a = slots["accumulator"]
        np.multiply(g, g, out=buf)
        a += buf
        np.add(a, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        np.divide(g, buf, out=buf)
        buf *= lr
        w -= buf


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients.

    ``s = rho s + (1 - rho) g^2;  step = lr g / sqrt(s + eps)`` (centered:
    ``sqrt(s - gbar^2 + eps)`` with ``gbar = rho gbar + (1 - rho) g``); with momentum
    ``u = momentum u + step; w -= u``, else ``w -= step``.
    """

    _slot_names = ("velocity", "average_gradient", "momentum")
    _config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "rmsprop",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.rho = _check_beta("RMSprop", "rho", rho)
        self.momentum = _check_beta("RMSprop", "momentum", momentum)
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)
        self.centered = bool(centered)
        self._slot_names = (
            ("velocity",)
            + (("average_gradient",) if centered else ())
            + (("momentum",) if self.momentum > 0 else ())
        )

    def _update(self, w, g, slots, buf, lr):
        rho = self.rho
        s = slots["velocity"]
        np.multiply(g, g, out=buf)
        buf *= 1.0 - rho
        s *= rho
        s += buf
        if self.centered:
            gbar = slots["average_gradient"]
            gbar *= rho
            np.multiply(g, 1.0 - rho, out=buf)
            gbar += buf
            np.multiply(gbar, gbar, out=buf)
            np.subtract(s, buf, out=buf)
            buf += self.epsilon
        else:
            np.add(s, self.epsilon, out=buf)
        np.sqrt(buf, out=buf)
        np.divide(g, buf, out=buf)
        buf *= lr
        if self.momentum > 0:
            u = slots["momentum"]
            u *= self.momentum
            u += buf
            w -= u
        else:
            w -= buf


def _update_moments(
    g: np.ndarray, slots: dict, buf: np.ndarray, b1: float, b2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Adam's and Nadam's moments, in place: ``m += (1 - b1)(g - m); v += (1 - b2)(g^2 - v)``."""
    m, v = slots["momentum"], slots["velocity"]
    np.subtract(g, m, out=buf)
    buf *= 1.0 - b1
    m += buf
    np.multiply(g, g, out=buf)
    buf -= v
    buf *= 1.0 - b2
    v += buf
    return m, v


class Adam(Optimizer):
    """Adaptive moments (Kingma & Ba), as Keras writes it.

    ``m += (1 - b1)(g - m);  v += (1 - b2)(g^2 - v);
    w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``
    (``amsgrad`` uses the running maximum of v).
    """

    _slot_names = ("momentum", "velocity", "velocity_hat")
    _config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adam",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        for what, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{type(self).__name__} expects {what} in [0, 1), received {b}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)
        self.amsgrad = bool(amsgrad)
        self._slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def _update(self, w, g, slots, buf, lr):
        b1, b2 = self.beta_1, self.beta_2
        t = self.iterations + 1
        alpha = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        if not self.amsgrad and _fused.adam(
            w, g, slots["momentum"], slots["velocity"], b1, b2, self.epsilon, alpha
        ):  # the passes below as one compiled loop (numba installed): the same bits
            return
        m, v = _update_moments(g, slots, buf, b1, b2)
        if self.amsgrad:
            vhat = slots["velocity_hat"]
            np.maximum(vhat, v, out=vhat)
            v = vhat
        np.sqrt(v, out=buf)
        buf += self.epsilon
        np.divide(m, buf, out=buf)
        buf *= alpha
        w -= buf


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w -= lr wd w`` before
    each Adam step; Keras' default ``weight_decay=0.004``."""

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adamw",
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
            name,
        )


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat, 2016), with Keras' momentum schedule.

    ``u_t = b1 (1 - 0.5 * 0.96^t)``, ``P_t = u_1 ... u_t``;
    ``m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t)``,
    ``v_hat = v / (1 - b2^t)``; ``w -= lr m_hat / (sqrt(v_hat) + eps)``.
    """

    _slot_names = ("momentum", "velocity")
    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "nadam",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)
        self._u_product = 1.0
        self._step_consts: tuple[float, ...] = ()

    def _before_step(self) -> None:
        b1, t = self.beta_1, self.iterations + 1
        u_t = b1 * (1.0 - 0.5 * 0.96**t)
        u_next = b1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        self._u_product *= u_t
        p_t = self._u_product
        self._step_consts = (
            u_next / (1.0 - p_t * u_next),  # weight of m
            (1.0 - u_t) / (1.0 - p_t),  # weight of g
            1.0 / (1.0 - self.beta_2**t),  # v bias correction
        )

    def _update(self, w, g, slots, buf, lr):
        c_m, c_g, c_v = self._step_consts
        m, v = _update_moments(g, slots, buf, self.beta_1, self.beta_2)
        # denominator sqrt(v_hat) + eps, then the numerator m_hat, then the step
        np.multiply(v, c_v, out=buf)
        np.sqrt(buf, out=buf)
        buf += self.epsilon
        np.reciprocal(buf, out=buf)
        buf *= lr
        w -= c_m * m * buf + c_g * g * buf

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {"u_product": np.array(self._u_product)}

    def _set_extra_state(self, state: dict[str, np.ndarray]) -> None:
        if "u_product" in state:
            self._u_product = float(np.asarray(state.pop("u_product")))


def _check_epsilon(owner: str, epsilon: float) -> float:
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float, np.floating))
        or not (math.isfinite(epsilon) and epsilon >= 0)
    ):
        raise ValueError(
            f"{owner} expects epsilon to be a finite number >= 0, received {epsilon!r}"
        )
    return float(epsilon)


def _check_beta(owner: str, name: str, b: float) -> float:
    if not 0.0 <= b < 1.0:
        raise ValueError(f"{owner} expects {name} in [0, 1), received {b}")
    return float(b)


class Adamax(Optimizer):
    """Adam with the infinity norm (Kingma & Ba, section 7), as Keras writes it.

    ``m += (1 - b1)(g - m);  u = max(b2 u, |g|);  w -= lr m / ((1 - b1^t)(u + eps))``.
    """

    _slot_names = ("momentum", "norm")
    _config_keys = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adamax",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = _check_beta("Adamax", "beta_1", beta_1)
        self.beta_2 = _check_beta("Adamax", "beta_2", beta_2)
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)

    def _update(self, w, g, slots, buf, lr):
        m, u = slots["momentum"], slots["norm"]
        np.subtract(g, m, out=buf)
        buf *= 1.0 - self.beta_1
        m += buf
        u *= self.beta_2
        np.maximum(u, np.abs(g), out=u)
        t = self.iterations + 1
        np.add(u, self.epsilon, out=buf)
        buf *= 1.0 - self.beta_1**t
        np.divide(m, buf, out=buf)
        buf *= lr
        w -= buf


class Adadelta(Optimizer):
    """Rates from running averages of squared gradients and squared updates (Zeiler, 2012).

    ``a = rho a + (1 - rho) g^2;  d = -sqrt(D + eps) / sqrt(a + eps) * g;
    D = rho D + (1 - rho) d^2;  w += lr d``.
    """

    _slot_names = ("accumulated_grad", "accumulated_delta_var")
    _config_keys = ("rho", "epsilon")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "adadelta",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.rho = _check_beta("Adadelta", "rho", rho)
        if not epsilon > 0:
            raise ValueError(f"Adadelta expects epsilon > 0, received {epsilon}")
        self.epsilon = _check_epsilon(type(self).__name__, epsilon)

    def _update(self, w, g, slots, buf, lr):
        a, D = slots["accumulated_grad"], slots["accumulated_delta_var"]
        rho, eps = self.rho, self.epsilon
        a *= rho
        a += (1.0 - rho) * g * g
        delta = -np.sqrt(D + eps) * g / np.sqrt(a + eps)
        D *= rho
        D += (1.0 - rho) * delta * delta
        w += lr * delta


class Ftrl(Optimizer):
    """Follow The Regularized Leader (McMahan et al., 2013), as Keras writes it.

    With ``n`` the summed squared gradients and ``z`` the linear term:
    ``z += g' - (n_new^-p - n^-p) / lr * w`` and
    ``w = (clip(z, -l1, l1) - z) / (n_new^-p / lr + 2 l2')``, where ``p`` is
    ``learning_rate_power``, ``g' = g + 2 l2_shrinkage w`` and ``l2' = l2 + beta / (2 lr)``.
    """

    _slot_names = ("accumulator", "linear")
    _config_keys = (
        "learning_rate_power",
        "initial_accumulator_value",
        "l1_regularization_strength",
        "l2_regularization_strength",
        "l2_shrinkage_regularization_strength",
        "beta",
    )

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "ftrl",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        checks = (
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
        )
        for what, v in checks:
            if not v >= 0:
                raise ValueError(f"Ftrl expects {what} >= 0, received {v}")
        if not learning_rate_power <= 0:
            raise ValueError(
                f"Ftrl expects learning_rate_power <= 0, received {learning_rate_power}"
            )
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(l2_shrinkage_regularization_strength)
        self.beta = float(beta)

    def _initial_slot(self, name, data):
        if name == "accumulator":
            return np.full_like(data, self.initial_accumulator_value)
        return np.zeros_like(data)

    def _update(self, w, g, slots, buf, lr):
        n, z = slots["accumulator"], slots["linear"]
        p = -self.learning_rate_power
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        g_used = g + 2.0 * self.l2_shrinkage_regularization_strength * w
        n_new = n + g * g
        z += g_used - (n_new**p - n**p) / lr * w
        quadratic = n_new**p / lr + 2.0 * l2
        w[...] = (np.clip(z, -l1, l1) - z) / quadratic
        n[...] = n_new


class Lion(Optimizer):
    """The sign of an interpolated momentum (Chen et al., 2023), as Keras writes it.

    ``w -= lr sign(b1 m + (1 - b1) g);  m = b2 m + (1 - b2) g``.
    """

    _slot_names = ("momentum",)
    _config_keys = ("beta_1", "beta_2")

    def __init__(
        self,
        learning_rate: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str = "lion",
    ) -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        if not 0.0 < beta_1 <= 1.0:
            raise ValueError(f"Lion expects beta_1 in (0, 1], received {beta_1}")
        self.beta_1 = float(beta_1)
        self.beta_2 = _check_beta("Lion", "beta_2", beta_2)

    def _update(self, w, g, slots, buf, lr):
        m = slots["momentum"]
        np.multiply(m, self.beta_1, out=buf)
        buf += (1.0 - self.beta_1) * g
        np.sign(buf, out=buf)
        buf *= lr
        w -= buf
        m *= self.beta_2
        m += (1.0 - self.beta_2) * g


# ----------------------------------------------------------------------------
# lookup

_REGISTRY = Registry(
    "optimizer",
    Optimizer,
    {},
    # names are case-insensitive: 'Adam', 'adam' and 'ADAM' are all Adam
    {
        cls.__name__.lower(): cls
        for cls in (SGD, Adagrad, RMSprop, Adam, AdamW, Nadam, Adamax, Adadelta, Ftrl, Lion)
    },
    expected="a name such as 'adam', an Optimizer instance or class, or a config dict",
    string_configs=False,
    not_serializable="serialize expects an Optimizer, received {obj!r}",
)


def get(identifier: str | dict | Optimizer | type) -> Optimizer:
    """An optimizer from a name (``'sgd'``, ``'adam'``, any case), a config dict,
    an ``Optimizer`` instance or class."""
    return _REGISTRY.get(identifier)


def serialize(optimizer: Optimizer) -> dict:
    """``{'class_name': 'Adam', 'config': {...}}`` (JSON-able)."""
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict) -> Optimizer:
    """Inverse of ``serialize``."""
    return _REGISTRY.deserialize(config)


# ``keras.optimizers.schedules.ExponentialDecay`` works as
# ``tinygrad_mlp.optimizers.schedules.ExponentialDecay`` (and imports as a module)
schedules = _types.ModuleType(
    f"{__name__}.schedules", "Learning-rate schedules, as Keras groups them."
)
for _cls in (
    LearningRateSchedule, ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay,
    StepDecay, PolynomialDecay, CosineDecay,
):  # fmt: skip
    setattr(schedules, _cls.__name__, _cls)
schedules.__all__ = [name for name in vars(schedules) if name[0].isupper()]
_sys.modules[schedules.__name__] = schedules
