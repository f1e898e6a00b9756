"""Training pictures with matplotlib: loss curves, decision boundaries, importances.

matplotlib is an optional extra (``pip install "tinygrad_mlp[plot]"``), imported
inside each function. Every function returns its Figure, which a notebook
displays inline (there the notebook's backend is kept); a script or a test gets
the non-interactive Agg backend and never a window. A file is written only
when ``to_file`` is given (PNG, SVG, PDF by its extension).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "plot_history",
    "plot_decision_boundary",
    "plot_learning_rates",
    "plot_feature_importance",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_gradient_norms",
]

_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#ff7f0e"


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or an ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plotting needs matplotlib, which is not installed: "
            'pip install "tinygrad_mlp[plot]" (or pip install matplotlib)'
        ) from exc
    # a script or a test draws to files (Agg); a notebook keeps its inline backend
    if "matplotlib.pyplot" not in sys.modules and "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, to_file: str | os.PathLike | None, plt: Any, own: bool) -> None:
    if to_file is not None:
        path = os.fspath(to_file)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    if own:
        plt.close(fig)


def _history_dict(history: Any) -> dict[str, list[float]]:
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping):
        raise TypeError(
            f"expected a History (as returned by fit) or its .history dict, "
            f"received {type(history).__name__}"
        )
    out = {}
    for key, values in data.items():
        try:
            out[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"history[{key!r}] must be a list of numbers, received {values!r}"
            ) from exc
    return out


def _quantities(data: Mapping[str, list[float]], metrics: Sequence[str] | None) -> list[str]:
    """The panels: 'loss' first, then each metric, each drawn with its ``val_`` twin."""
    names = [k for k in data if not k.startswith("val_")]
    names += [k[4:] for k in data if k.startswith("val_") and k[4:] not in data]
    names.sort(key=lambda k: (k != "loss", list(data).index(k) if k in data else 0))
    if metrics is not None:
        wanted = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in wanted if m not in names]
        if unknown:
            raise ValueError(f"unknown quantity {unknown[0]!r}: the history has {names}")
        names = wanted
    return names


def plot_history(
    history: Any,
    to_file: str | os.PathLike | None = None,
    metrics: Sequence[str] | str | None = None,
    marks: Mapping[str, int] | None = None,
) -> Any:
    """One panel per quantity (loss, then each metric): training and ``val_`` curves together.

    ``history`` is what ``fit`` returns or its ``.history`` dict
    (``{'loss': [...], 'val_loss': [...], 'accuracy': [...], ...}``);
    ``metrics`` picks the panels. ``marks`` draws a labelled vertical line at
    each epoch given (``{"stopped": 23, "best, restored": 18}``). Writes
    ``to_file`` and returns the Figure.
    """
    data = _history_dict(history)
    if not data or not any(len(v) for v in data.values()):
        raise ValueError("the history is empty: train for at least one epoch before plotting it")
    # a History knows its real epoch numbers (fit(..., initial_epoch=k) starts at k)
    recorded = [int(e) + 1 for e in getattr(history, "epoch", None) or []]
    names = _quantities(data, metrics)
    plt = _pyplot()
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for key, label, color in (
            (name, "training", _TRAIN_COLOR),
            (f"val_{name}", "validation", _VAL_COLOR),
        ):
            values = data.get(key)
            if values:
                if len(recorded) == len(values):
                    epochs = np.asarray(recorded)
                else:
                    epochs = np.arange(1, len(values) + 1)
                ax.plot(
                    epochs,
                    values,
                    color=color,
                    label=label,
                    marker="o" if len(values) < 30 else None,
                    ms=3,
                )
        for k, (label, epoch) in enumerate((marks or {}).items()):
            ax.axvline(epoch, color=("#2ca02c", "#d62728", "#9467bd")[k % 3], ls="--", lw=1.2,
                       label=f"{label} (epoch {epoch})")  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig


def _predict_proba(model: Any, grid: np.ndarray) -> tuple[np.ndarray, int]:
    """(P(class 1) per grid point, 2), or (the top-class index, n_classes) for several outputs."""
    predict = getattr(model, "predict", None)
    if predict is None:
        if not callable(model):
            raise TypeError(
                "plot_decision_boundary expects a model with predict(), "
                f"received {type(model).__name__}"
            )
        out = model(grid)
    else:
        try:
            out = predict(grid, verbose=0)
        except TypeError:
            out = predict(grid)
    out = np.asarray(getattr(out, "data", out), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] > 1:
        return np.argmax(out, axis=1).astype(np.float64), out.shape[1]
    return out.reshape(len(grid)), 2


def plot_decision_boundary(
    model: Any,
    x: Any,
    y: Any,
    to_file: str | os.PathLike | None = None,
    resolution: int = 200,
    ax: Any = None,
) -> Any:
    """The model's output over the plane of 2-D inputs, with the data points on top.

    For one sigmoid output: filled contours of P(y=1) with the 0.5 line in black;
    for several outputs: the predicted class regions. ``x`` has shape (n, 2) and
    ``y`` n labels (0/1, class indices or one-hot rows). Returns the Axes.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(
            f"plot_decision_boundary needs 2-D inputs of shape (n, 2), received shape {x.shape}"
        )
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = np.argmax(y, axis=1)
    y = y.reshape(-1)
    if len(y) != len(x):
        raise ValueError(
            f"x has {len(x)} points but y has {len(y)} labels; expected the same number"
        )
    resolution = int(resolution)
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, received {resolution}")
    plt = _pyplot()
    pad = 0.05 * (x.max(axis=0) - x.min(axis=0)) + 1e-9
    lo, hi = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    z, n_classes = _predict_proba(model, grid)
    z = z.reshape(gx.shape)
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5.5, 4.8))
    else:
        fig = ax.figure
    if n_classes == 2:
        cs = ax.contourf(
            gx, gy, z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1
        )
        fig.colorbar(cs, ax=ax, label="P(class 1)")
        if np.nanmin(z) < 0.5 < np.nanmax(z):
            ax.contour(gx, gy, z, levels=[0.5], colors="black", linewidths=1.5)
    else:
        ax.contourf(gx, gy, z, levels=np.arange(n_classes + 1) - 0.5, cmap="tab10", alpha=0.35)
    classes = np.unique(y)
    colors = plt.get_cmap("RdBu_r" if n_classes == 2 else "tab10")
    for k, c in enumerate(classes):
        mask = y == c
        color = (
            colors(0.1 if k == 0 else 0.9)
            if n_classes == 2 and len(classes) <= 2
            else colors(k % 10)
        )
        ax.scatter(
            x[mask, 0],
            x[mask, 1],
            s=14,
            color=color,
            edgecolors="black",
            linewidths=0.4,
            label=f"class {c}",
        )
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title("decision boundary")
    ax.legend(loc="best", fontsize=8)
    _save(fig, to_file, plt, own=own)
    return ax


def plot_learning_rates(
    histories: Mapping[str, Any],
    to_file: str | os.PathLike | None = None,
    metric: str = "loss",
) -> Any:
    """Loss curves side by side, one panel per run: the course's "too low / too high / adequate".

    ``histories`` maps a title (``'lr=0.001 (too low)'``) to a History or its dict.
    Every panel shares the y axis so the runs compare at a glance; the axis stops
    at 2x the smallest first value (the best-behaved run's start), so a diverging
    run does not flatten the others; a run that leaves the scale is labelled with
    its largest value.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(
            "plot_learning_rates expects a non-empty dict {title: History}, "
            f"received {type(histories).__name__}"
        )
    runs = {str(k): _history_dict(h) for k, h in histories.items()}
    for title, data in runs.items():
        if not data.get(metric):
            raise ValueError(f"run {title!r} has no {metric!r} curve; it has {list(data)}")
    plt = _pyplot()
    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), sharey=True, squeeze=False)
    starts = [next((v for v in d[metric] if math.isfinite(v)), math.nan) for d in runs.values()]
    starts = [v for v in starts if math.isfinite(v)]
    finite = [v for d in runs.values() for v in d[metric] if math.isfinite(v)]
    top = 2.0 * min(starts) if starts and min(starts) > 0 else (max(finite) if finite else 1.0)
    for ax, (title, data) in zip(axes.flat, runs.items(), strict=True):
        values = np.asarray(data[metric], dtype=np.float64)
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, color=_TRAIN_COLOR, label="training")
        val = data.get(f"val_{metric}")
        if val:
            ax.plot(np.arange(1, len(val) + 1), val, color=_VAL_COLOR, label="validation")
        if not np.all(np.isfinite(values)):
            ax.text(
                0.5, 0.5, "diverged (inf/nan)", transform=ax.transAxes, ha="center", color="red"
            )
        elif values.max() > top:
            ax.text(
                0.5,
                0.9,
                f"off the scale: up to {values.max():.3g}",
                transform=ax.transAxes,
                ha="center",
                color="red",
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"},
            )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    axes.flat[0].set_ylabel(metric)
    if finite:
        axes.flat[0].set_ylim(min(0.0, min(finite)), top if top > 0 else 1.0)
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig


def plot_feature_importance(
    importances: Any,
    feature_names: Sequence[str] | None = None,
    to_file: str | os.PathLike | None = None,
    errors: Any = None,
) -> Any:
    """Horizontal bars, the most important feature on top.

    ``importances`` is one number per feature (shape (n_features,)); ``errors``
    optional error bars of the same shape (e.g. the std of permutation importance).
    """
    values = np.asarray(importances, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            "importances must be one number per feature (a 1-D array), "
            f"received shape {values.shape}"
        )
    if feature_names is None:
        names = [f"x{i + 1}" for i in range(values.size)]
    else:
        names = [str(n) for n in feature_names]
        if len(names) != values.size:
            raise ValueError(
                f"got {len(names)} feature names for {values.size} importances; "
                "expected the same number"
            )
    err = None
    if errors is not None:
        err = np.asarray(errors, dtype=np.float64)
        if err.shape != values.shape:
            raise ValueError(f"errors must have shape {values.shape}, received {err.shape}")
    order = np.argsort(np.abs(values), kind="stable")  # largest last = drawn on top
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.35 * values.size + 1.2))
    colors = ["#b2182b" if v >= 0 else "#2166ac" for v in values[order]]
    ax.barh(
        np.arange(values.size),
        values[order],
        color=colors,
        xerr=None if err is None else err[order],
    )
    ax.set_yticks(np.arange(values.size))
    ax.set_yticklabels([names[i] for i in order])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("importance")
    ax.set_title("feature importance")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig


_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish", "gelu")


def plot_activations(
    names: Sequence[str] = _ACTIVATIONS,
    to_file: str | os.PathLike | None = None,
    span: float = 5.0,
) -> Any:
    """Each activation g(z) and its derivative g'(z), the derivative from the engine's backward."""
    from tinygrad_mlp import activations
    from tinygrad_mlp.engine import Value

    z = np.linspace(-span, span, 401)
    plt = _pyplot()
    cols = min(len(names), 4)
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        v = Value(z.copy())
        out = activations.get(name)(v)
        out.backward(np.ones_like(z))
        ax.plot(z, out.data, color=_TRAIN_COLOR, label="g(z)")
        ax.plot(z, v.grad, color=_VAL_COLOR, ls="--", label="g'(z)")
        ax.axhline(0, color="#999", lw=0.6)
        ax.axvline(0, color="#999", lw=0.6)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig


def plot_confusion_matrix(
    matrix: Any,
    labels: Sequence[str] | None = None,
    to_file: str | os.PathLike | None = None,
) -> Any:
    """The confusion matrix as a picture: rows the true class, columns the predicted one."""
    cm = np.asarray(matrix)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix is square, received shape {cm.shape}")
    labels = list(labels) if labels is not None else [str(i) for i in range(len(cm))]
    if len(labels) != len(cm):
        raise ValueError(f"{len(labels)} labels for a {len(cm)}x{len(cm)} matrix")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * len(cm) + 2.2, 1.1 * len(cm) + 1.6))
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    top = cm.max() if cm.size else 0
    for i in range(len(cm)):
        for j in range(len(cm)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > top / 2 else "black")  # fmt: skip
    ax.set_xticks(range(len(cm)), labels)
    ax.set_yticks(range(len(cm)), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("confusion matrix")
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig


def plot_gradient_norms(
    norms: Mapping[str, Sequence[float]],
    to_file: str | os.PathLike | None = None,
) -> Any:
    """|dL/dW| per layer (first layer on the left) for each network, on a log scale:
    vanishing gradients fall away towards the input."""
    if not isinstance(norms, Mapping) or not norms:
        raise ValueError("plot_gradient_norms expects a dict {network name: norms per layer}")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, values in norms.items():
        values = np.asarray(values, dtype=np.float64)
        ax.semilogy(np.arange(1, len(values) + 1), values, marker="o", label=str(name))
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("|dL/d kernel| (log scale)")
    ax.set_title("gradient norm per layer")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig
