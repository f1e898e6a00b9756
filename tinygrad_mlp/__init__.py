"""tinygrad_mlp: an autograd engine and a Keras-style MLP library on NumPy."""

from tinygrad_mlp import numpy_ops, ops  # noqa: F401 - importing ops gives Value its methods
from tinygrad_mlp.engine import (
    Context,
    Function,
    Value,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
)
from tinygrad_mlp.numpy_ops import *  # noqa: F403 - NumPy's op names: tinygrad_mlp.sin(x), ...
from tinygrad_mlp.ops import concatenate, stack, where

__version__ = "0.1.0"

__all__ = [
    "Value",
    "Function",
    "Context",
    "draw_graph",  # noqa: F405 - loaded on first use by __getattr__
    "concatenate",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "stack",
    "where",
    "__version__",
    *numpy_ops.__all__,
]


def __getattr__(name: str) -> object:
    # draw_graph lives with the other renderers; it is imported on first use so
    # that importing the engine does not load graphviz
    if name == "draw_graph":
        from tinygrad_mlp.visualization import draw_graph

        globals()["draw_graph"] = draw_graph
        return draw_graph
    raise AttributeError(f"module 'tinygrad_mlp' has no attribute {name!r}")
