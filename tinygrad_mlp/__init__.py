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
    "Sequential",  # noqa: F405
    "Model",  # noqa: F405
    "Input",  # noqa: F405
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


# Keras' module names, reachable as attributes (``tm.metrics.Precision()``, ``tm.layers.Dense``)
# and imported on first use, so ``import tinygrad_mlp`` loads only the engine and its ops
_SUBMODULES = frozenset(
    {
        "activations", "backend", "backprop", "callbacks", "constraints", "course", "datasets",
        "explain", "initializers", "layers", "losses", "metrics", "models", "nn", "optimizers",
        "pages", "plotting", "preprocessing", "regularizers", "saving", "summary", "symbolic",
        "testing", "trainer", "data_adapters", "utils", "visualization", "wrappers",
        "keras_format", "onnx_export",
    }
)  # fmt: skip
_LAZY = {
    "draw_graph": "visualization",
    "Sequential": "models",
    "Model": "models",
    "Input": "layers",
}


def __getattr__(name: str) -> object:
    import importlib

    if name in _SUBMODULES:
        value = importlib.import_module(f"tinygrad_mlp.{name}")
    elif name in _LAZY:  # draw_graph lives with the renderers: graphviz loads when it is used
        value = getattr(importlib.import_module(f"tinygrad_mlp.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module 'tinygrad_mlp' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY))
