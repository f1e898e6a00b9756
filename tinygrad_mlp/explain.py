"""Which inputs matter: feature importance for a trained model.

Two views, as in the course's "judging a classifier" chapter:

* **Integrated gradients** (Sundararajan et al., 2017) attribute one prediction
  to its inputs: ``IG_j(x) = (x_j - b_j) * mean_{a in (0,1]} d f(b + a (x - b)) / d x_j``.
  Attributions add up to ``f(x) - f(b)`` (completeness), which the tests check.
* **Permutation importance** (Breiman, 2001) measures how much a score gets
  worse when one input column is shuffled, breaking its link with the target.

Both only read the model: its ``layers`` (called in inference mode) and
``predict``/``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Value

__all__ = ["integrated_gradients", "permutation_importance", "feature_importance"]


def _forward(model: Any, x: Value) -> Value:
    """Run ``x`` through the model's layers in inference mode, recording the graph."""
    out = x
    for layer in model.layers:
        out = layer(out, training=False)
    return out


def _as_2d(x: Any, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (samples, features), received shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def integrated_gradients(
    model: Any,
    x: Any,
    baseline: Any = None,
    target: int | None = None,
    steps: int = 64,
) -> np.ndarray:
    """Integrated-gradients attributions, one per input of each sample.

    ``x``: shape ``(n, d)`` (or ``(d,)`` for one sample). ``baseline``: the
    "absence of signal", zeros by default (for standardised inputs, the mean).
    ``target``: which output unit to explain; by default the predicted class
    for a softmax output, and the single output otherwise. The integral is a
    midpoint Riemann sum with ``steps`` points. Returns shape ``(n, d)``;
    ``attributions.sum(1)`` approximates ``f(x) - f(baseline)``.
    """
    x = _as_2d(x)
    n, d = x.shape
    b = np.zeros(d) if baseline is None else np.broadcast_to(np.asarray(baseline, float), (d,))
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, received {steps}")
    alphas = (np.arange(steps) + 0.5) / steps
    path = b + alphas[:, None, None] * (x - b)[None]  # (steps, n, d)
    dtype = model.layers[0].weights[0].dtype if model.layers and model.layers[0].weights else None
    inputs = Value(path.reshape(steps * n, d), dtype=dtype or np.float32)
    out = _forward(model, inputs)
    out_data = out.data.reshape(steps * n, -1)
    if target is None:
        if out_data.shape[1] == 1:
            chosen = np.zeros(n, dtype=int)
        else:
            final = model.predict(x.astype(inputs.dtype), verbose=0)
            chosen = np.asarray(final).reshape(n, -1).argmax(axis=1)
    else:
        if not 0 <= target < out_data.shape[1]:
            raise ValueError(
                f"target must be an output index in [0, {out_data.shape[1] - 1}], received {target}"
            )
        chosen = np.full(n, target)
    seed = np.zeros_like(out_data)
    seed[np.arange(steps * n), np.tile(chosen, steps)] = 1.0
    out.backward(seed.reshape(out.shape))
    grads = np.asarray(inputs.grad, dtype=np.float64).reshape(steps, n, d)
    return (x - b) * grads.mean(axis=0)


def permutation_importance(
    model: Any,
    x: Any,
    y: Any,
    scoring: Callable[[np.ndarray, np.ndarray], float] | None = None,
    n_repeats: int = 5,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """How much the score drops when each input column is shuffled.

    ``scoring(y_true, y_pred) -> float`` where higher is better; by default the
    negative of the model's compiled loss. Returns ``importances`` of shape
    ``(d, n_repeats)`` and their ``importances_mean``/``importances_std``, like
    scikit-learn's function of the same name.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, received {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)

    def score(inputs: np.ndarray) -> float:
        if scoring is None:
            result = model.evaluate(inputs, y, verbose=0, return_dict=True)
            return -float(result["loss"])
        return float(scoring(y, model.predict(inputs, verbose=0)))

    base = score(x)
    d = x.shape[1]
    drops = np.empty((d, n_repeats))
    for j in range(d):
        shuffled = x.copy()
        for r in range(n_repeats):
            shuffled[:, j] = x[rng.permutation(len(x)), j]
            drops[j, r] = base - score(shuffled)
    return {
        "importances": drops,
        "importances_mean": drops.mean(axis=1),
        "importances_std": drops.std(axis=1),
    }


def feature_importance(
    model: Any,
    x: Any,
    y: Any = None,
    method: str = "integrated_gradients",
    **kwargs: Any,
) -> np.ndarray:
    """One number per input: mean |integrated gradient|, or mean permutation drop."""
    if method == "integrated_gradients":
        return np.abs(integrated_gradients(model, x, **kwargs)).mean(axis=0)
    if method == "permutation":
        if y is None:
            raise ValueError("method='permutation' needs the targets y")
        return permutation_importance(model, x, y, **kwargs)["importances_mean"]
    raise ValueError(
        f"Unknown feature-importance method {method!r}; "
        "valid methods: 'integrated_gradients', 'permutation'"
    )
