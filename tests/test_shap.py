"""SHAP values: the course's code, additivity, and the real ``shap`` package side by side."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from peers import require_torch, torch

import tinygrad_mlp.explain as sh
from tinygrad_mlp.initializers import GlorotUniform
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential

shap = pytest.importorskip("shap", reason="shap is not installed (it is in the 'test' extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:shap.*")


def network(d: int, hidden: str, out: str, units: int = 1, seed: int = 0) -> Sequential:
    model = Sequential(
        [
            Dense(6, input_dim=d, activation=hidden, kernel_initializer=GlorotUniform(seed)),
            Dense(units, activation=out, kernel_initializer=GlorotUniform(seed + 1)),
        ]
    )
    model.compile(loss="mse", optimizer="sgd")
    return model


def as_torch(model: Sequential, hidden: str, out: str):
    """The same network in PyTorch, float64, with the same weights."""
    W1, b1, W2, b2 = (w.astype(np.float64) for w in model.get_weights())
    act = {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid()}
    layers = [torch.nn.Linear(*W1.shape), act[hidden], torch.nn.Linear(*W2.shape)]
    if out != "linear":
        layers.append(act[out])
    net = torch.nn.Sequential(*layers).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(W1.T))
        net[0].bias.copy_(torch.tensor(b1))
        net[2].weight.copy_(torch.tensor(W2.T))
        net[2].bias.copy_(torch.tensor(b2))
    return net


def theirs_as_list(values, outputs: int):
    """shap's layout (an array with a trailing output axis, or a list) as ours."""
    if isinstance(values, list):
        return values[0] if outputs == 1 else values
    values = np.asarray(values)
    if values.ndim == 3:
        return values[..., 0] if outputs == 1 else [values[..., k] for k in range(outputs)]
    return values


CASES = [
    ("relu", "sigmoid", 1),
    ("tanh", "linear", 1),
    ("sigmoid", "tanh", 1),
    ("relu", "linear", 3),
]


@pytest.mark.parametrize("hidden,out,units", CASES)
def test_deep_explainer_equals_shaps_on_the_same_pytorch_network(hidden, out, units):
    require_torch()
    rng = np.random.default_rng(1)
    data = rng.standard_normal((80, 5))
    background, samples = data[:40], data[40:46]
    model = network(5, hidden, out, units)
    ours = sh.DeepExplainer(model, background)
    explainer = shap.DeepExplainer(as_torch(model, hidden, out), torch.tensor(background))
    expected = theirs_as_list(explainer.shap_values(torch.tensor(samples)), units)
    got = ours.shap_values(samples)
    if units == 1:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
        assert ours.expected_value == pytest.approx(
            float(np.ravel(explainer.expected_value)[0]), abs=1e-6
        )
    else:
        assert isinstance(got, list) and len(got) == units
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    hidden=st.sampled_from(["relu", "tanh", "sigmoid", "elu", "softplus"]),
    out=st.sampled_from(["sigmoid", "linear", "tanh"]),
)
def test_deep_shap_values_add_up_exactly(seed, hidden, out):
    """sum_i phi_i = f(x) - mean f(background), to 1e-5."""
    rng = np.random.default_rng(seed)
    model = network(4, hidden, out, seed=seed % 100)
    background, samples = rng.standard_normal((20, 4)), rng.standard_normal((5, 4))
    explainer = sh.DeepExplainer(model, background)
    phi = explainer.shap_values(samples)
    f = model.predict(samples, verbose=0).ravel().astype(np.float64)
    np.testing.assert_allclose(phi.sum(axis=1), f - explainer.expected_value, atol=1e-5)


def test_exact_shapley_values_equal_shaps_exact_explainer():
    rng = np.random.default_rng(2)
    model = network(4, "tanh", "sigmoid")
    background, samples = rng.standard_normal((12, 4)), rng.standard_normal((3, 4))
    ours = sh.shapley_values(model, samples, background)

    def f(x):
        return model.predict(np.asarray(x, dtype=np.float64), verbose=0).ravel()

    masker = shap.maskers.Independent(background, max_samples=len(background))
    theirs = shap.explainers.Exact(f, masker)(samples).values
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    f_x = f(samples)
    np.testing.assert_allclose(ours.sum(1), f_x - f(background).mean(), atol=1e-6)


def test_on_a_linear_model_every_explainer_gives_w_times_x_minus_the_mean():
    rng = np.random.default_rng(3)
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(loss="mse", optimizer="sgd")
    model.set_weights([np.array([[2.0], [-1.0], [0.5]]), np.array([0.3])])
    background, samples = rng.standard_normal((50, 3)), rng.standard_normal((4, 3))
    exact = np.array([2.0, -1.0, 0.5]) * (samples - background.mean(0))
    np.testing.assert_allclose(
        sh.DeepExplainer(model, background).shap_values(samples), exact, atol=1e-5
    )
    np.testing.assert_allclose(sh.shapley_values(model, samples, background), exact, atol=1e-5)
    expected_gradients = sh.GradientExplainer(model, background, seed=0).shap_values(
        samples, nsamples=4000
    )
    np.testing.assert_allclose(expected_gradients, exact, atol=0.15)  # a sample mean of r


def test_the_course_code_runs(tmp_path):
    """The course's notebook: ``import ... as sh``, DeepExplainer, shap_values, summary_plot."""
    from tinygrad_mlp.datasets import multi_label

    x, y = multi_label(n=300, seed=0)
    network_ = Sequential(
        [Dense(16, input_dim=10, activation="relu"), Dense(4, activation="sigmoid")]
    )
    network_.compile(loss="binary_crossentropy", optimizer="adam")
    network_.fit(x, y, epochs=3, verbose=0)
    shap_data, other_input_data = x[:50], x[50:80]
    headers = [f"x{i}" for i in range(10)]
    explainer = sh.DeepExplainer(network_, shap_data)
    shap_values = explainer.shap_values(other_input_data)
    assert isinstance(shap_values, list) and len(shap_values) == 4
    assert shap_values[0].shape == (30, 10)
    sh.initjs()
    fig = sh.summary_plot(shap_values, headers, to_file=tmp_path / "summary.png")
    assert (tmp_path / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert len(fig.axes[0].patches) == 4 * 10  # a bar per feature and output


def test_the_beeswarm_sorts_features_by_mean_absolute_shap_value(tmp_path):
    rng = np.random.default_rng(4)
    values = rng.standard_normal((40, 3)) * np.array([0.1, 3.0, 1.0])
    features = rng.standard_normal((40, 3))
    fig = sh.summary_plot(
        values, features, feature_names=["small", "big", "middle"], to_file=tmp_path / "b.png"
    )
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["small", "middle", "big"]  # bottom to top: the most important on top
    assert len(fig.axes) == 2  # the feature-value colour bar
    with pytest.raises(ValueError, match="feature names"):
        sh.summary_plot(values, feature_names=["a"])


def test_bad_input_is_refused():
    model = network(3, "relu", "sigmoid")
    with pytest.raises(ValueError, match="features"):
        sh.DeepExplainer(model, np.zeros((5, 3))).shap_values(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        sh.DeepExplainer(model, np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="2\\^13"):
        sh.shapley_values(network(13, "relu", "sigmoid"), np.zeros((1, 13)), np.zeros((2, 13)))
    softmax = Sequential([Dense(2, input_dim=3, activation="softmax")])
    with pytest.raises(ValueError, match="elementwise"):
        sh.DeepExplainer(softmax, np.zeros((4, 3))).shap_values(np.zeros((1, 3)))
