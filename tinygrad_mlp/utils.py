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

__all__ = sorted([*_WHERE, "PyDataset", "Sequence"])


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tinygrad_mlp.utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tinygrad_mlp.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


class PyDataset:
    """Keras' ``utils.PyDataset``: subclass it with ``__len__`` (the number of batches) and
    ``__getitem__(index)`` returning batch ``index`` as ``(x, y)`` or ``(x, y, sample_weight)``.

    ``fit`` asks for every batch once per epoch and calls ``on_epoch_end()`` after
    it (shuffle the samples there). ``workers``, ``use_multiprocessing`` and
    ``max_queue_size`` are accepted as in Keras; batches are produced in the
    training thread, in order.
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called before each epoch."""

    def on_epoch_end(self) -> None:
        """Called after each epoch."""


Sequence = PyDataset  # Keras 2's name
