"""Which inputs matter: feature importance and SHAP values for a trained model.

The course's SHAP code runs with ``import tinygrad_mlp.explain as sh``::

    explainer = sh.DeepExplainer(network, shap_data)
    shap_values = explainer.shap_values(other_input_data)
    sh.initjs()
    sh.summary_plot(shap_values, headers)

* ``DeepExplainer`` (DeepLIFT's rescale rule averaged over a background set, as
  SHAP's Deep SHAP): the attributions of a sample add up exactly to
  ``f(x) - mean f(background)``.
* ``GradientExplainer`` (expected gradients): ``E[(x - r) * grad f(r + t (x - r))]``
  over background rows ``r`` and ``t ~ U(0, 1)``.
* ``shapley_values``: exact interventional Shapley values, by enumerating every
  coalition (up to about 12 features).

And two more views, as in the course's "judging a classifier" chapter:

* **Integrated gradients** (Sundararajan et al., 2017) attribute one prediction
  to its inputs: ``IG_j(x) = (x_j - b_j) * mean_{a in (0,1]} d f(b + a (x - b)) / d x_j``.
  Attributions add up to ``f(x) - f(b)`` (completeness), which the tests check.
* **Permutation importance** (Breiman, 2001) measures how much a score gets
  worse when one input column is shuffled, breaking its link with the target.

Both only read the model: its ``layers`` (called in inference mode) and
``predict``/``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.engine import Function, Value, enable_grad, grad, no_grad

__all__ = [
    "DeepExplainer",
    "GradientExplainer",
    "shapley_values",
    "summary_plot",
    "initjs",
    "integrated_gradients",
    "permutation_importance",
    "feature_importance",
]


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


# ----------------------------------------------------------------------------
# SHAP values


class _Rescale(Function):
    """DeepLIFT's rescale rule for an elementwise activation, on a batch [x rows; reference rows].

    Forward is the activation. Backward multiplies by ``(f(z_x) - f(z_r)) / (z_x - z_r)``
    instead of ``f'(z)``, for the x rows and the reference rows alike (SHAP's
    ``nonlinear_1d``); where ``|z_x - z_r| < 1e-6`` it keeps the ordinary gradient.
    """

    @staticmethod
    def forward(ctx: Any, z: Any, activation: Any) -> Any:
        with enable_grad():  # forward runs under no_grad; f'(z) comes from the engine
            zv = Value(z, requires_grad=True)
            with_grad = activation(zv)
            out = with_grad.data
            (slope,) = grad(with_grad, [zv], grad_output=np.ones_like(out))
        half = len(z) // 2
        dz = z[:half] - z[half:]
        dy = out[:half] - out[half:]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.concatenate([dy / dz, dy / dz])
        ctx.multiplier = np.where(np.abs(np.concatenate([dz, dz])) < 1e-6, slope, ratio)
        return out

    @staticmethod
    def backward(ctx: Any, g: Value) -> tuple[Value, None]:
        return g * ctx.multiplier, None


_ELEMENTWISE = (
    "linear", "relu", "sigmoid", "tanh", "elu", "selu", "softplus", "leaky_relu",
    "swish", "silu", "gelu", "mish", "hard_sigmoid", "exponential", "relu6",
)  # fmt: skip


def _deeplift_forward(model: Any, x: Value) -> Value:
    """The model's forward pass with every activation replaced by its rescale rule."""
    out = x
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Dense", "Activation"):
            activation = layer.activation
            name = getattr(activation, "__name__", "")
            if name not in _ELEMENTWISE:
                raise ValueError(
                    f"DeepExplainer rescales elementwise activations ({', '.join(_ELEMENTWISE)}); "
                    f"layer {layer.name!r} uses {name or activation!r}"
                )
            z = layer.call_linear(out) if kind == "Dense" else out
            out = z if name == "linear" else _Rescale.apply(z, activation)
        elif kind in ("Dropout", "InputLayer", "BatchNormalization"):
            out = layer(out, training=False)  # linear (or the identity) at inference
        else:
            raise ValueError(
                f"DeepExplainer follows Dense, Activation, Dropout and BatchNormalization layers; "
                f"layer {layer.name!r} is a {kind}"
            )
    return out


def _outputs(model: Any, x: np.ndarray) -> np.ndarray:
    y = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    return y.reshape(len(x), -1)


def _shap_format(phis: np.ndarray) -> Any:
    """SHAP's return layout: (samples, features) for one output, a list per output otherwise."""
    if phis.shape[-1] == 1:
        return phis[..., 0]
    return [phis[..., k] for k in range(phis.shape[-1])]


class DeepExplainer:
    """SHAP's Deep SHAP: DeepLIFT's rescale rule, averaged over a background set.

    For a sample ``x`` and every background row ``r`` the network runs on the
    pair; back propagation uses, at each activation, the secant slope
    ``(f(z_x) - f(z_r)) / (z_x - z_r)`` instead of ``f'(z)``, which gives
    multipliers ``m`` with ``sum_i m_i (x_i - r_i) = f(x) - f(r)`` exactly. The
    SHAP value of input i is the mean over r of ``m_i (x_i - r_i)``, so a sample's
    values sum to ``f(x) - expected_value`` with ``expected_value = mean_r f(r)``.

    Args:
        model: a Sequential of Dense (any elementwise activation), Activation,
            Dropout and BatchNormalization layers.
        data: the background set, shape (rows, features): the "absence" of a
            feature is its value in these rows (100 to 1000 rows is typical).
    """

    def __init__(self, model: Any, data: Any) -> None:
        self.model = model
        self.data = _as_2d(data, "data")
        self.expected_value = _outputs(model, self.data).mean(axis=0)
        if self.expected_value.size == 1:
            self.expected_value = float(self.expected_value[0])

    def shap_values(self, X: Any, check_additivity: bool = True) -> Any:
        """SHAP values of ``X`` (samples, features): an array for a single output, else a
        list with one array per output (SHAP's layout)."""
        X = _as_2d(X, "X")
        if X.shape[1] != self.data.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, the background data has {self.data.shape[1]}"
            )
        n_bg = len(self.data)
        n_out = _outputs(self.model, self.data[:1]).shape[1]
        phis = np.zeros(X.shape + (n_out,))
        for j, x in enumerate(X):
            joint = Value(np.concatenate([np.repeat(x[None], n_bg, 0), self.data]))
            out = _deeplift_forward(self.model, joint).reshape(2 * n_bg, -1)
            for k in range(n_out):
                seed = np.zeros(out.shape)
                seed[:n_bg, k] = 1.0
                (m,) = grad(out, [joint], grad_output=seed)
                phis[j, :, k] = (m[:n_bg] * (x - self.data)).mean(axis=0)
        if check_additivity:
            gap = phis.sum(axis=1) - (_outputs(self.model, X) - np.atleast_1d(self.expected_value))
            if np.abs(gap).max() > 1e-4 * max(1.0, np.abs(phis).max()):
                raise AssertionError(
                    f"the SHAP values do not add up to f(x) - E f(background): off by up to "
                    f"{np.abs(gap).max():.3g}"
                )
        return _shap_format(phis)


class GradientExplainer:
    """SHAP's expected gradients: ``phi_i = E[(x_i - r_i) * df/dx_i (r + t (x - r))]``.

    The expectation runs over background rows ``r`` and ``t ~ U(0, 1)`` with
    ``nsamples`` draws per sample (seeded by ``seed``): integrated gradients
    averaged over the background, so values sum to ``f(x) - E f(background)`` in
    expectation.
    """

    def __init__(self, model: Any, data: Any, seed: int | None = 0) -> None:
        self.model = model
        self.data = _as_2d(data, "data")
        self.seed = seed
        self.expected_value = _outputs(model, self.data).mean(axis=0)
        if self.expected_value.size == 1:
            self.expected_value = float(self.expected_value[0])

    def shap_values(self, X: Any, nsamples: int = 200) -> Any:
        X = _as_2d(X, "X")
        if not isinstance(nsamples, int) or nsamples < 1:
            raise ValueError(f"nsamples must be a positive integer, received {nsamples!r}")
        rng = np.random.default_rng(self.seed)
        n_out = _outputs(self.model, self.data[:1]).shape[1]
        phis = np.zeros(X.shape + (n_out,))
        for j, x in enumerate(X):
            r = self.data[rng.integers(0, len(self.data), nsamples)]
            t = rng.random((nsamples, 1))
            point = Value(r + t * (x - r))
            out = _forward(self.model, point).reshape(nsamples, -1)
            for k in range(n_out):
                seed = np.zeros(out.shape)
                seed[:, k] = 1.0
                (g,) = grad(out, [point], grad_output=seed)
                phis[j, :, k] = (g * (x - r)).mean(axis=0)
        return _shap_format(phis)


def shapley_values(model: Any, X: Any, data: Any, max_features: int = 12) -> Any:
    """Exact interventional Shapley values, every coalition enumerated.

    ``v(S) = mean_r f(x_S, r_rest)`` over the background rows ``r``;
    ``phi_i = sum_S |S|! (d-|S|-1)! / d! (v(S + i) - v(S))``. Exact, and
    exponential in the number of features ``d`` (2^d coalitions): refused past
    ``max_features``.
    """
    from math import factorial

    X, data = _as_2d(X, "X"), _as_2d(data, "data")
    d = X.shape[1]
    if d > max_features:
        raise ValueError(
            f"exact Shapley values need 2^{d} coalitions; more than max_features={max_features}"
        )
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(bool)  # coalition k
    sizes = masks.sum(1)
    weight = np.array([factorial(s) * factorial(d - s - 1) / factorial(d) for s in range(d)])
    n_out = _outputs(model, data[:1]).shape[1]
    phis = np.zeros(X.shape + (n_out,))
    for j, x in enumerate(X):
        rows = np.where(masks[:, None, :], x, data[None, :, :]).reshape(-1, d)
        with no_grad():
            v = _outputs(model, rows).reshape(2**d, len(data), n_out).mean(axis=1)
        for i in range(d):
            without = ~masks[:, i]
            k = np.nonzero(without)[0]
            phis[j, i] = (weight[sizes[k]][:, None] * (v[k | (1 << i)] - v[k])).sum(axis=0)
    return _shap_format(phis)


def initjs() -> None:
    """SHAP's ``initjs`` loads JavaScript for its interactive plots in a notebook; the plots
    here are plain images, so there is nothing to load (it is kept so course code runs)."""
    return None


def summary_plot(
    shap_values: Any,
    features: Any = None,
    feature_names: Sequence[str] | None = None,
    max_display: int = 20,
    show: bool = True,
    to_file: str | None = None,
) -> Any:
    """SHAP's summary plot: a beeswarm, one row per feature sorted by mean |SHAP value|.

    Each dot is one sample: x is its SHAP value, colour its feature value (blue
    low, red high) when ``features`` are given. A list of arrays (one per
    output) gives SHAP's bar chart of mean |SHAP| per output instead. A list of
    strings as ``features`` is taken as the feature names, as SHAP does.
    Returns the matplotlib figure; ``to_file`` saves it.
    """
    from tinygrad_mlp.plotting import _pyplot, _save

    if isinstance(features, (list, tuple)) and all(isinstance(f, str) for f in features):
        feature_names, features = list(features), None
    multi = isinstance(shap_values, list)
    values = [np.asarray(v, dtype=np.float64) for v in (shap_values if multi else [shap_values])]
    for v in values:
        if v.ndim != 2:
            raise ValueError(
                f"summary_plot needs SHAP values of shape (samples, features), received {v.shape}"
            )
    d = values[0].shape[1]
    names = list(feature_names) if feature_names is not None else [f"Feature {i}" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"{len(names)} feature names for {d} features")
    if features is not None:
        features = _as_2d(features, "features")
        if features.shape != values[0].shape:
            raise ValueError(
                f"features has shape {features.shape}, the SHAP values {values[0].shape}"
            )
    importance = sum(np.abs(v).mean(axis=0) for v in values)
    order = np.argsort(importance)[::-1][:max_display][::-1]  # most important at the top
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(order) + 1.5))
    if multi:
        left = np.zeros(len(order))
        for k, v in enumerate(values):
            width = np.abs(v).mean(axis=0)[order]
            ax.barh(range(len(order)), width, left=left, label=f"Class {k}")
            left += width
        ax.set_xlabel("mean(|SHAP value|) (average impact on model output magnitude)")
        ax.legend(loc="lower right")
    else:
        v = values[0]
        rng = np.random.default_rng(0)
        for row, i in enumerate(order):
            jitter = rng.normal(0, 0.08, len(v))
            if features is not None:
                f = features[:, i]
                span = np.ptp(f) or 1.0
                colour = plt.cm.coolwarm((f - f.min()) / span)
            else:
                colour = "#1e88e5"
            ax.scatter(v[:, i], row + jitter, c=colour, s=12, linewidths=0, alpha=0.85)
        ax.axvline(0, color="#999", lw=0.8)
        ax.set_xlabel("SHAP value (impact on model output)")
        if features is not None:
            bar = fig.colorbar(plt.cm.ScalarMappable(cmap=plt.cm.coolwarm), ax=ax, ticks=[0, 1])
            bar.ax.set_yticklabels(["Low", "High"])
            bar.set_label("Feature value")
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([names[i] for i in order])
    fig.tight_layout()
    _save(fig, to_file, plt, own=True)
    return fig
