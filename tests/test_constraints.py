"""Constraints: Keras' projections, lookup, and that fit keeps constrained weights in bounds."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mlp import constraints as C
from tinygrad_mlp.initializers import RandomNormal
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential, load_model
from tinygrad_mlp.optimizers import SGD

matrices = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
    lambda s: hnp.arrays(np.float64, s, elements=st.floats(-10.0, 10.0, allow_nan=False))
)
bounds = st.floats(0.1, 5.0)


def column_norms(w, axis=0):
    return np.sqrt((w**2).sum(axis=axis))


def test_docstring_examples():
    assert doctest.testmod(C).failed == 0


@given(w=matrices, max_value=bounds)
def test_max_norm_bounds_the_column_norms_and_keeps_directions(w, max_value):
    out = C.MaxNorm(max_value)(w)
    assert out.shape == w.shape
    n = column_norms(w)
    assert (column_norms(out) <= max_value * (1 + 1e-9)).all()
    # columns already inside the ball are (up to epsilon) unchanged
    inside = n <= max_value
    np.testing.assert_allclose(out[:, inside], w[:, inside], rtol=1e-6, atol=1e-6)
    # the others are rescaled to norm max_value in the same direction
    outside = n > max_value
    np.testing.assert_allclose(
        out[:, outside], w[:, outside] * (max_value / n[outside]), rtol=1e-6, atol=1e-9
    )


@given(w=matrices)
def test_non_neg_is_max_w_zero(w):
    np.testing.assert_array_equal(C.NonNeg()(w), np.where(w > 0, w, 0.0))


@given(w=matrices)
def test_unit_norm_gives_unit_rows_along_axis_1(w):
    out = C.UnitNorm(axis=1)(w)
    n = column_norms(w, axis=1)
    big = n > 1e-3  # Keras adds epsilon = 1e-7 to the norm, negligible for these rows
    np.testing.assert_allclose(column_norms(out, axis=1)[big], 1.0, rtol=1e-4)


@given(w=matrices, lo=st.floats(0.0, 2.0), width=st.floats(0.0, 3.0), rate=st.floats(0.0, 1.0))
def test_min_max_norm_moves_norms_towards_the_interval(w, lo, width, rate):
    hi = lo + width
    out = C.MinMaxNorm(min_value=lo, max_value=hi, rate=rate)(w)
    n = column_norms(w)
    ok = n > 1e-3
    target = rate * np.clip(n, lo, hi) + (1 - rate) * n
    np.testing.assert_allclose(column_norms(out)[ok], target[ok], rtol=1e-4, atol=1e-9)


def test_axis_lists_and_vectors():
    w = np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 10
    out = C.MaxNorm(1.0, axis=[0, 1])(w)
    assert np.sqrt((out**2).sum(axis=(0, 1))).max() == pytest.approx(1.0, rel=1e-6)
    b = np.array([3.0, 4.0])  # a bias: axis 0 is the whole vector, norm 5
    np.testing.assert_allclose(C.MaxNorm(1.0)(b), [0.6, 0.8], rtol=1e-6)
    with pytest.raises(ValueError, match="out of range for a weight of shape"):
        C.MaxNorm(1.0, axis=2)(b)


def test_float32_stays_float32():
    w = np.array([[3.0, -4.0]], dtype=np.float32)
    for c in (C.MaxNorm(1), C.NonNeg(), C.UnitNorm(), C.MinMaxNorm()):
        assert c(w).dtype == np.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_value"):
        C.MaxNorm(-1.0)
    with pytest.raises(TypeError, match="axis"):
        C.UnitNorm(axis="rows")
    with pytest.raises(ValueError, match="min_value <= max_value"):
        C.MinMaxNorm(min_value=2.0, max_value=1.0)


# -- lookup and serialization ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls",
    [
        ("max_norm", C.MaxNorm),
        ("NonNeg", C.NonNeg),
        ("unit_norm", C.UnitNorm),
        ("MinMaxNorm", C.MinMaxNorm),
        ("min_max_norm", C.MinMaxNorm),
    ],
)
def test_get_by_name(name, cls):
    assert type(C.get(name)) is cls


def test_get_defaults_aliases_and_other_identifiers():
    assert C.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert C.MinMaxNorm().get_config() == {
        "min_value": 0.0,
        "max_value": 1.0,
        "rate": 1.0,
        "axis": 0,
    }
    assert C.max_norm is C.MaxNorm and C.non_neg is C.NonNeg
    assert C.unit_norm is C.UnitNorm and C.min_max_norm is C.MinMaxNorm
    assert C.get(None) is None
    c = C.UnitNorm(axis=1)
    assert C.get(c) is c
    assert isinstance(C.get(C.NonNeg), C.NonNeg)

    def clip(w):
        return np.clip(w, -1, 1)

    assert C.get(clip) is clip


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown constraint: 'maxnorm'.*'max_norm'.*'non_neg'"):
        C.get("maxnorm")
    with pytest.raises(ValueError, match=r"Unknown constraint: 'L2'.*'MaxNorm'"):
        C.deserialize({"class_name": "L2", "config": {}})
    with pytest.raises(TypeError, match="constraint identifier 1.5"):
        C.get(1.5)


@given(max_value=bounds, rate=st.floats(0.0, 1.0), axis=st.sampled_from([0, 1, [0, 1]]))
def test_serialize_round_trip(max_value, rate, axis):
    for c in (
        C.MaxNorm(max_value, axis),
        C.NonNeg(),
        C.UnitNorm(axis),
        C.MinMaxNorm(0.0, max_value, rate, axis),
    ):
        again = C.deserialize(C.serialize(c))
        assert type(again) is type(c) and again.get_config() == c.get_config()
    assert C.serialize(None) is None and C.deserialize(None) is None


# -- in training -------------------------------------------------------------------------------


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32) * 3
    y = (x @ rng.normal(size=(5, 1)) > 0).astype(np.float32)
    return x, y


def _fit(**dense_kwargs):
    x, y = _data()
    model = Sequential(
        [
            Dense(
                6,
                input_dim=5,
                activation="relu",
                kernel_initializer=RandomNormal(0.0, 1.0, seed=0),
                bias_initializer=RandomNormal(0.0, 1.0, seed=1),
                **dense_kwargs,
            ),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=SGD(1.0), loss="binary_crossentropy")
    model.fit(x, y, epochs=5, batch_size=8, verbose=0, seed=0)
    return model.layers[0]


def test_fit_keeps_constrained_weights_projected():
    free = _fit()
    # without constraints this set-up leaves large columns and negative biases
    assert column_norms(free.kernel.data).max() > 1.5 and free.bias.data.min() < 0
    layer = _fit(kernel_constraint=C.MaxNorm(1.5), bias_constraint="non_neg")
    assert (column_norms(layer.kernel.data) <= 1.5 * (1 + 1e-5)).all()
    assert (layer.bias.data >= 0).all()


def test_train_on_batch_applies_the_constraint_after_the_step():
    x, y = _data()
    model = Sequential([Dense(1, input_dim=5, kernel_constraint=C.UnitNorm(), dtype="float64")])
    model.compile(optimizer=SGD(0.1), loss="mse")
    w = model.layers[0].kernel.data.copy()
    b = model.layers[0].bias.data.copy()
    x, y = x.astype(np.float64), y.astype(np.float64)
    r = x @ w + b - y
    stepped = w - 0.1 * (2 / len(x)) * x.T @ r
    model.train_on_batch(x, y)
    expected = stepped / (1e-7 + np.sqrt((stepped**2).sum(axis=0)))
    np.testing.assert_allclose(model.layers[0].kernel.data, expected, rtol=1e-10)


def test_frozen_layers_are_not_projected():
    model = Sequential(
        [Dense(2, input_dim=2, kernel_initializer="ones", kernel_constraint="unit_norm"), Dense(1)]
    )
    model.layers[0].trainable = False
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(np.ones((4, 2)), np.ones((4, 1)))
    np.testing.assert_array_equal(model.layers[0].kernel.data, np.ones((2, 2)))


def test_config_and_save_round_trip(tmp_path):
    layer = Dense(
        3,
        input_dim=2,
        kernel_constraint=C.MinMaxNorm(0.5, 2.0, 0.5, axis=[0]),
        bias_constraint=C.NonNeg(),
    )
    config = layer.get_config()
    assert config["kernel_constraint"] == {
        "class_name": "MinMaxNorm",
        "config": {"min_value": 0.5, "max_value": 2.0, "rate": 0.5, "axis": [0]},
    }
    assert config["bias_constraint"] == {"class_name": "NonNeg", "config": {}}
    assert Dense.from_config(config).get_config() == config
    model = Sequential([layer, Dense(1, kernel_constraint="max_norm")])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "c.tgm")
    loaded = load_model(tmp_path / "c.tgm")
    assert loaded.get_config() == model.get_config()
    assert loaded.layers[1].kernel_constraint == C.MaxNorm()
