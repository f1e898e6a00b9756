"""Keras' ``utils``: plotting models and graphs, and preparing data.

The names live in the modules named after their concept (``visualization``,
``plotting``, ``preprocessing``, ``explain``); this module gathers them where a
Keras user looks for them. They are imported on first use, so importing
``tinygrad_mlp.utils`` does not pull in graphviz rendering or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "draw_graph": "visualization",
    "plot_model": "visualization",
    "plot_network": "visualization",
    "render": "visualization",
    "plot_history": "plotting",
    "plot_decision_boundary": "plotting",
    "plot_learning_rates": "plotting",
    "plot_feature_importance": "plotting",
    "to_categorical": "preprocessing",
    "normalize": "preprocessing",
    "standardize": "preprocessing",
    "StandardScaler": "preprocessing",
    "train_val_test_split": "preprocessing",
    "check_finite": "preprocessing",
    "integrated_gradients": "explain",
    "permutation_importance": "explain",
    "set_random_seed": "backend",
    "plot_activations": "plotting",
    "plot_confusion_matrix": "plotting",
    "plot_gradient_norms": "plotting",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tinygrad_mlp.utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tinygrad_mlp.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
