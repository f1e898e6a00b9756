"""Activation functions ``g`` of the artificial neuron ``a = g(b + sum_k a_k w_k)``.

Each function maps a ``Value`` to a ``Value`` of the same shape and has the
Keras name as ``__name__``, so ``Dense(4, activation='relu')`` and
``Dense(4, activation=activations.relu)`` are the same layer and serialize
to the same string.

>>> from tinygrad_mlp.engine import Value
>>> get("relu")(Value([-1.0, 2.0])).data
array([0., 2.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygrad_mlp.engine import Value, _const

__all__ = [
    "linear",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "sigmoid",
    "tanh",
    "softplus",
    "softmax",
    "swish",
    "silu",
    "gelu",
    "relu6",
    "hard_sigmoid",
    "exponential",
    "mish",
    "log_softmax",
    "erf",
    "get",
    "serialize",
    "deserialize",
]

Activation = Callable[[Value], Value]


def _value(x: Any) -> Value:
    """Let the functions take arrays and numbers too (as constants)."""
    return x if isinstance(x, Value) else _const(x)


def linear(x: Value) -> Value:
    """g(x) = x (the identity; ``activation=None`` means linear)."""
    return _value(x)


def relu(x: Value, max_value: float | None = None) -> Value:
    """g(x) = max(0, x) (capped at ``max_value`` if given);  g'(x) = 1 for x > 0, else 0."""
    out = _value(x).relu()
    return out if max_value is None else out.clip(None, max_value)


def relu6(x: Value) -> Value:
    """g(x) = min(max(0, x), 6)."""
    return _value(x).relu().clip(None, 6.0)


def leaky_relu(x: Value, negative_slope: float = 0.2) -> Value:
    """g(x) = x for x > 0, else negative_slope * x (Keras 3's default slope 0.2)."""
    return _value(x).leaky_relu(negative_slope)


def elu(x: Value, alpha: float = 1.0) -> Value:
    """g(x) = x for x > 0, else alpha (e^x - 1)."""
    return _value(x).elu(alpha)


def selu(x: Value) -> Value:
    """g(x) = 1.0507 * elu(x, alpha=1.6733): self-normalising (Klambauer et al., 2017)."""
    return _value(x).selu()


def sigmoid(x: Value) -> Value:
    """g(x) = 1 / (1 + e^-x);  g' = g (1 - g)."""
    return _value(x).sigmoid()


def tanh(x: Value) -> Value:
    """g(x) = tanh(x);  g' = 1 - g^2."""
    return _value(x).tanh()


def softplus(x: Value) -> Value:
    """g(x) = log(1 + e^x);  g' = sigmoid(x)."""
    return _value(x).softplus()


def hard_sigmoid(x: Value) -> Value:
    """g(x) = relu6(x + 3) / 6: a piecewise-linear sigmoid (Keras 3's definition)."""
    return relu6(_value(x) + 3.0) * (1.0 / 6.0)


def exponential(x: Value) -> Value:
    """g(x) = e^x."""
    return _value(x).exp()


def mish(x: Value) -> Value:
    """g(x) = x tanh(softplus(x)) (Misra, 2019)."""
    return _value(x).mish()


def log_softmax(x: Value, axis: int = -1) -> Value:
    """g(x) = x - logsumexp(x) along ``axis``: log of softmax, finite where softmax underflows."""
    return _value(x).log_softmax(axis)


def softmax(x: Value, axis: int = -1) -> Value:
    """g(x)_i = e^x_i / sum_j e^x_j along ``axis`` (each row sums to 1)."""
    return _value(x).softmax(axis)


def swish(x: Value) -> Value:
    """g(x) = x sigmoid(x) (also called SiLU)."""
    return _value(x).silu()


silu = swish


def erf(x: Value) -> Value:
    """The error function erf(x) = 2/sqrt(pi) int_0^x e^(-t^2) dt, exact (``numpy_ops.erf``)."""
    return _value(x).erf()


def gelu(x: Value, approximate: bool = False) -> Value:
    """g(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, Keras' default (exact, erf-based).

    ``approximate=True`` uses the tanh form
    ``x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``.
    """
    return _value(x).gelu(approximate="tanh" if approximate else "none")


# -- lookup --------------------------------------------------------------------
# Not a _registry.Registry: activations are plain functions (a name gives the
# function itself, not a new instance of a class), None means linear, and a
# config is just the name, so the class/config machinery has nothing to do here.

_BY_NAME: dict[str, Activation] = {
    "linear": linear,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softplus": softplus,
    "softmax": softmax,
    "swish": swish,
    "silu": swish,
    "gelu": gelu,
    "relu6": relu6,
    "hard_sigmoid": hard_sigmoid,
    "exponential": exponential,
    "mish": mish,
    "log_softmax": log_softmax,
}


def get(identifier: str | Activation | None) -> Activation:
    """The activation for ``None`` (linear), a Keras name such as ``'relu'``, or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier.lower())
        if fn is None:
            raise ValueError(
                f"Unknown activation function: '{identifier}'. "
                f"Valid names are: {', '.join(sorted(_BY_NAME))}"
            )
        return fn
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret activation identifier {identifier!r}: expected None, "
        "a name such as 'relu', or a callable"
    )


def serialize(activation: Activation | None) -> str:
    """The name under which ``get`` finds ``activation`` again ('linear' for None)."""
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize activation {activation!r}: it has no __name__")
    return name


def deserialize(config: str | dict | None) -> Activation:
    """Inverse of ``serialize``; also accepts Keras' ``{'class_name': name}`` form."""
    if isinstance(config, dict):
        entry = config
        config = entry.get("config", entry.get("class_name"))
        if isinstance(config, dict):
            config = config.get("name", entry.get("class_name"))
        if not isinstance(config, str):  # never a silent linear for a nameless entry
            raise ValueError(
                f"an activation config must name the activation ({{'class_name': 'relu'}} or "
                f"{{'config': {{'name': 'relu'}}}}), received {entry!r:.200}"
            )
    return get(config)
