"""Feature importance: integrated gradients and permutation importance."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.explain import feature_importance, integrated_gradients, permutation_importance
from tinygrad_mlp.initializers import GlorotUniform
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential


def small_model(d: int, out: int, activation: str, seed: int) -> Sequential:
    model = Sequential(
        [
            Dense(5, input_dim=d, activation="tanh", kernel_initializer=GlorotUniform(seed)),
            Dense(out, activation=activation, kernel_initializer=GlorotUniform(seed + 1)),
        ]
    )
    model.compile(loss="mse", optimizer="sgd")
    return model


@settings(max_examples=15, deadline=None)
@given(
    d=st.integers(1, 4),
    n=st.integers(1, 3),
    seed=st.integers(0, 1000),
    out_activation=st.sampled_from(["sigmoid", "softmax", "linear"]),
)
def test_integrated_gradients_add_up_to_the_change_in_output(d, n, seed, out_activation):
    out = 3 if out_activation == "softmax" else 1
    model = small_model(d, out, out_activation, seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    baseline = rng.normal(size=d)
    target = 1 if out == 3 else 0
    attributions = integrated_gradients(model, x, baseline=baseline, target=target, steps=256)
    f = model.predict(np.vstack([x, baseline[None]]).astype(np.float32), verbose=0)
    expected = f[:n, target] - f[n, target]
    # completeness: the sum of attributions is f(x) - f(baseline), up to the Riemann sum error
    np.testing.assert_allclose(attributions.sum(axis=1), expected, atol=2e-3)


def test_a_linear_model_attributes_weight_times_displacement():
    model = Sequential([Dense(1, input_dim=3)])
    model.set_weights([np.array([[2.0], [-1.0], [0.5]], np.float32), np.zeros(1, np.float32)])
    x = np.array([[1.0, 2.0, 4.0]])
    np.testing.assert_allclose(
        integrated_gradients(model, x, steps=4), [[2.0, -2.0, 2.0]], rtol=1e-6
    )


def test_permutation_importance_finds_the_only_input_that_matters():
    model = Sequential([Dense(1, input_dim=3)])
    model.set_weights([np.array([[0.0], [3.0], [0.0]], np.float32), np.zeros(1, np.float32)])
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = 3.0 * x[:, 1:2]
    result = permutation_importance(model, x, y, n_repeats=3, seed=0)
    assert result["importances"].shape == (3, 3)
    assert result["importances_mean"][1] > 1.0
    np.testing.assert_allclose(result["importances_mean"][[0, 2]], 0.0, atol=1e-6)
    ranking = feature_importance(model, x, y, method="permutation", seed=0)
    assert int(np.argmax(ranking)) == 1


def test_bad_input_is_named():
    model = small_model(2, 1, "sigmoid", 0)
    with pytest.raises(ValueError, match="valid methods"):
        feature_importance(model, np.zeros((2, 2)), method="shap")
    with pytest.raises(ValueError, match="same length"):
        permutation_importance(model, np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="target"):
        integrated_gradients(model, np.zeros((1, 2)), target=5)
    with pytest.raises(ValueError, match="NaN"):
        integrated_gradients(model, np.array([[np.nan, 0.0]]))
