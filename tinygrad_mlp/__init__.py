"""tinygrad_mlp: an autograd engine and a Keras-style MLP library on NumPy."""

from tinygrad_mlp.engine import (
    Value,
    concatenate,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    stack,
    where,
)

__version__ = "0.1.0"

__all__ = [
    "Value",
    "concatenate",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "stack",
    "where",
    "__version__",
]
