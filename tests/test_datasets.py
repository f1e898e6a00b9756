"""The course's data generators and the scikit-learn loaders."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp import datasets

GENERATORS = [
    datasets.linear,
    datasets.circle,
    datasets.xor_blobs,
    datasets.noisy_function,
    datasets.spiral,
    datasets.moons,
]


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_generators_are_float32_seeded_and_shaped(make):
    x, y = make(n=37, seed=5)
    x2, y2 = make(n=37, seed=5)
    x3, _ = make(n=37, seed=6)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert len(x) == len(y) == 37 and y.shape == (37,) and x.ndim == 2
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, x3)
    assert not np.array_equal(make(n=37)[0], make(n=37)[0])  # seed=None: fresh data
    assert np.isfinite(x).all() and np.isfinite(y).all()


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_generators_reject_bad_sizes(make):
    with pytest.raises(ValueError, match="n must be an integer >= 1, received 0"):
        make(n=0)
    with pytest.raises(TypeError, match="seed must be None, an int or a numpy Generator"):
        make(n=3, seed=1.5)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_linear_follows_the_course_rule(seed):
    x, y = datasets.linear(seed=seed)
    assert x.shape == (250, 2)
    assert x.min() >= 0 and x.max() <= 100
    np.testing.assert_array_equal(y, (x[:, 0] + x[:, 1] >= 100).astype(np.float32))
    x_below, y_below = datasets.linear(seed=seed, positive="below")
    np.testing.assert_array_equal(x_below, x)
    np.testing.assert_array_equal(y_below, 1 - y)


def test_linear_classes_are_roughly_balanced():
    _, y = datasets.linear(n=4000, seed=0)
    assert 0.45 < y.mean() < 0.55  # the line x + y = 100 halves the square


@settings(max_examples=25, deadline=None)
@given(
    st.floats(0.1, 2.0),
    st.tuples(st.floats(-1, 1), st.floats(-1, 1)),
    st.integers(0, 2**32 - 1),
)
def test_circle_follows_the_rule(radius, center, seed):
    x, y = datasets.circle(n=200, radius=radius, center=center, seed=seed)
    assert x.min() >= -1 and x.max() <= 1
    inside = (x[:, 0] - center[0]) ** 2 + (x[:, 1] - center[1]) ** 2 < radius**2
    # float32 storage can move a point across the boundary only when it lies on it
    d = np.abs(np.hypot(x[:, 0] - center[0], x[:, 1] - center[1]) - radius)
    mismatch = (y == 1) != inside
    assert np.all(d[mismatch] < 1e-5)


def test_circle_defaults_are_balanced_and_not_linearly_separable():
    x, y = datasets.circle(n=4000, seed=0)
    assert 0.45 < y.mean() < 0.55  # pi * 0.8^2 / 4 = 0.503
    # the best threshold on any single direction is far from perfect
    best = 0.0
    for angle in np.linspace(0, np.pi, 90):
        proj = x @ np.array([np.cos(angle), np.sin(angle)])
        for t in np.quantile(proj, np.linspace(0.05, 0.95, 19)):
            acc = ((proj > t) == y).mean()
            best = max(best, acc, 1 - acc)
    assert best < 0.75


def test_xor_points():
    x, y = datasets.xor()
    assert x.dtype == y.dtype == np.float32
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [0, 1, 1, 0]


def test_xor_blobs_are_balanced_and_labelled_by_nearest_corner():
    x, y = datasets.xor_blobs(n=400, noise=0.1, seed=0)
    assert y.mean() == 0.5
    corner = (x > 0.5).astype(int)  # with small noise the nearest corner decides
    assert ((corner[:, 0] ^ corner[:, 1]) == y).mean() > 0.99
    x0, y0 = datasets.xor_blobs(n=8, noise=0.0, seed=1)
    assert set(map(tuple, x0.tolist())) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        datasets.xor_blobs(noise=-1)


def test_noisy_function_is_sin_plus_noise():
    x, y = datasets.noisy_function(n=2000, noise=0.1, seed=0)
    assert x.shape == (2000, 1)
    assert np.all(np.abs(x) <= np.pi + 1e-6)
    residual = y - np.sin(x[:, 0])
    assert abs(residual.mean()) < 0.01 and 0.09 < residual.std() < 0.11
    x, y = datasets.noisy_function(n=50, noise=0.0, function=np.square, low=0, high=2, seed=0)
    np.testing.assert_allclose(y, x[:, 0] ** 2, rtol=1e-6)


def test_spiral_and_moons_labels():
    _, y = datasets.spiral(n=300, classes=3, seed=0)
    assert sorted(set(y.tolist())) == [0, 1, 2] and np.all(np.bincount(y.astype(int)) == 100)
    x, y = datasets.moons(n=200, noise=0.0, seed=0)
    upper = x[y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-5)
    lower = x[y == 1]
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="classes must be an integer >= 2"):
        datasets.spiral(classes=1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="positive must be 'above' or 'below', received 'up'"):
        datasets.linear(positive="up")
    with pytest.raises(ValueError, match="radius must be > 0"):
        datasets.circle(radius=0)
    with pytest.raises(ValueError, match=r"center must be a pair \(cx, cy\)"):
        datasets.circle(center=(0, 0, 0))


# ----------------------------------------------------------------------------
# real data sets


@pytest.mark.parametrize(
    "load, shape, n_classes, n_features",
    [
        (datasets.load_iris, (150, 4), 3, 4),
        (datasets.load_digits, (1797, 64), 10, 64),
        (datasets.load_breast_cancer, (569, 30), 2, 30),
    ],
)
def test_classification_loaders(load, shape, n_classes, n_features):
    pytest.importorskip("sklearn")
    x, y = load()
    assert x.shape == shape and x.dtype == np.float32
    assert y.shape == (shape[0],) and y.dtype == np.int64
    assert sorted(set(y.tolist())) == list(range(n_classes))
    x2, y2, features, targets = load(return_names=True)
    np.testing.assert_array_equal(x2, x)
    assert len(features) == n_features and len(targets) == n_classes
    assert all(isinstance(name, str) for name in features + targets)


def test_iris_names_and_diabetes_regression():
    pytest.importorskip("sklearn")
    _, _, features, targets = datasets.load_iris(return_names=True)
    assert targets == ["setosa", "versicolor", "virginica"]
    assert features[0] == "sepal length (cm)"
    x, y, features, targets = datasets.load_diabetes(return_names=True)
    assert x.shape == (442, 10) and y.dtype == np.float32 and targets is None
    assert len(features) == 10 and 25 <= y.min() and y.max() <= 346


def test_loaders_explain_how_to_install_scikit_learn(monkeypatch):
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    for module in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r'pip install "tinygrad_mlp\[data\]"'):
        datasets.load_iris()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_multi_label_follows_the_course_rules(seed, n):
    x, y = datasets.multi_label(n=n, seed=seed)
    assert x.shape == (n, 10) and y.shape == (n, 4)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    # the rules, restated from the docstring (float32 x: skip points on a boundary)
    x64 = x.astype(np.float64)
    margins = np.stack(
        [
            x64[:, 0] + x64[:, 1] - 1.0,
            x64[:, 2] - x64[:, 3],
            x64[:, 4:7].sum(1) - 1.5,
            x64[:, 7] - 0.5,
        ],
        axis=1,
    )
    clear = np.abs(margins) > 1e-5
    np.testing.assert_array_equal(y[clear], (margins > 0)[clear].astype(np.float32))
    x2, y2 = datasets.multi_label(n=n, seed=seed)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_multi_label_outputs_are_roughly_balanced_and_distinct():
    _, y = datasets.multi_label(n=4000, seed=0)
    # each rule is symmetric about its threshold, so about half the points are 1
    assert np.all(np.abs(y.mean(axis=0) - 0.5) < 0.05)
    assert len({tuple(col) for col in y.T}) == 4
    with pytest.raises(ValueError, match="n must be an integer >= 1, received 0"):
        datasets.multi_label(n=0)


def test_course_example_is_the_slides_network():
    from tinygrad_mlp.datasets import course_example
    from tinygrad_mlp.layers import Dense
    from tinygrad_mlp.models import Sequential

    ex = course_example()
    np.testing.assert_array_equal(ex.x, [1.0, 0.0])
    np.testing.assert_array_equal(ex.y, [0.7, 0.0])
    assert ex.learning_rate == 0.1
    model = Sequential(
        [Dense(2, activation="sigmoid", input_dim=2), Dense(2, activation="sigmoid")]
    )
    model.set_weights(ex.weights)
    y_hat = model.predict(ex.x[None], verbose=0)[0]
    np.testing.assert_allclose(y_hat, [0.9026, 0.8603], atol=1e-4)  # the slides' 0.90 and 0.86
    ex.weights[0][0, 0] = 99.0  # copies: the example itself is unchanged
    assert course_example().weights[0][0, 0] == 0.5 == ex.hidden_kernel[0, 0]
