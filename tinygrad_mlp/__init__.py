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
    "draw_graph",
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


def __getattr__(name: str) -> object:
    # draw_graph lives with the other renderers; it is imported on first use so
    # that importing the engine does not load graphviz
    if name == "draw_graph":
        from tinygrad_mlp.visualization import draw_graph

        globals()["draw_graph"] = draw_graph
        return draw_graph
    raise AttributeError(f"module 'tinygrad_mlp' has no attribute {name!r}")
