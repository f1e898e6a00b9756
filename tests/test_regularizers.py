"""Regularizers: Keras' penalty formulas, gradients, lookup, and their effect on training."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mlp import regularizers as R
from tinygrad_mlp.engine import Value
from tinygrad_mlp.initializers import GlorotUniform
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential, load_model
from tinygrad_mlp.optimizers import SGD
from tinygrad_mlp.testing import gradcheck

factors = st.floats(0.0, 2.0, allow_nan=False)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
weights = shapes.flatmap(
    lambda s: hnp.arrays(np.float64, s, elements=st.floats(-3.0, 3.0, allow_nan=False))
)
# |w| has a kink at 0: keep finite differences away from it
signs = st.sampled_from([-1.0, 1.0])
away_from_zero = shapes.flatmap(
    lambda s: st.tuples(
        hnp.arrays(np.float64, s, elements=st.floats(0.05, 3.0)),
        hnp.arrays(np.float64, s, elements=signs),
    )
).map(lambda t: t[0] * t[1])


def numpy_penalty(w, l1=0.0, l2=0.0):
    return l1 * np.abs(w).sum() + l2 * (w**2).sum()


def test_docstring_examples():
    assert doctest.testmod(R).failed == 0


# -- the formulas --------------------------------------------------------------------


@given(w=weights, l1=factors, l2=factors)
def test_values_match_numpy(w, l1, l2):
    for reg, expected in (
        (R.L1(l1), numpy_penalty(w, l1=l1)),
        (R.L2(l2), numpy_penalty(w, l2=l2)),
        (R.L1L2(l1, l2), numpy_penalty(w, l1, l2)),
    ):
        out = reg(Value(w))
        assert out.shape == ()
        np.testing.assert_allclose(float(out.data), expected, rtol=1e-12, atol=1e-12)


@given(w=away_from_zero, l1=factors, l2=factors)
def test_gradients_pass_gradcheck(w, l1, l2):
    for reg in (R.L1(l1), R.L2(l2), R.L1L2(l1, l2)):
        assert gradcheck(reg, w)


@given(w=away_from_zero, l1=factors, l2=factors)
def test_gradient_is_l1_sign_plus_two_l2_w(w, l1, l2):
    x = Value(w)
    R.L1L2(l1, l2)(x).backward()
    np.testing.assert_allclose(x.grad, l1 * np.sign(w) + 2 * l2 * w, rtol=1e-12, atol=1e-12)


def test_keras_examples_and_defaults():
    # Keras' docs: L2(2.) on a 5x5 matrix of ones is 2 * 25 = 50
    assert float(R.L2(2.0)(Value(np.ones((5, 5)))).data) == 50.0
    assert R.L1().l1 == 0.01 and R.L2().l2 == 0.01
    assert (R.L1L2().l1, R.L1L2().l2) == (0.0, 0.0)
    assert R.l1 is R.L1 and R.l2 is R.L2 and R.l1_l2 is R.L1L2


def test_float32_weights_give_a_float32_penalty_and_scalars_work():
    w = Value(np.array([1.0, -2.0], dtype=np.float32))
    assert R.L1L2(0.1, 0.1)(w).dtype == np.float32
    assert float(R.L1L2(0.0, 0.0)(w).data) == 0.0
    s = Value(-3.0)
    assert R.L1L2(0.5, 0.5)(s).data == pytest.approx(0.5 * 3 + 0.5 * 9)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", True])
def test_bad_factors_are_rejected(bad):
    with pytest.raises(ValueError, match="l2"):
        R.L2(bad)


# -- lookup and serialization ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls, config",
    [
        ("l1", R.L1, {"l1": 0.01}),
        ("L2", R.L2, {"l2": 0.01}),
        ("l1_l2", R.L1L2, {"l1": 0.01, "l2": 0.01}),  # Keras' documented string defaults
        ("L1L2", R.L1L2, {"l1": 0.0, "l2": 0.0}),
    ],
)
def test_get_by_name(name, cls, config):
    reg = R.get(name)
    assert type(reg) is cls and reg.get_config() == config


def test_get_accepts_none_instances_classes_dicts_and_callables():
    assert R.get(None) is None
    reg = R.L2(0.3)
    assert R.get(reg) is reg
    assert isinstance(R.get(R.L1), R.L1)
    assert R.get({"class_name": "L1", "config": {"l1": 0.2}}) == R.L1(0.2)

    def my_penalty(w):
        return w.abs().sum()

    assert R.get(my_penalty) is my_penalty


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown regularizer: 'l3'.*'l1_l2'.*'l2'"):
        R.get("l3")
    with pytest.raises(ValueError, match=r"Unknown regularizer: 'Dropout'.*'L1L2'"):
        R.deserialize({"class_name": "Dropout", "config": {}})
    with pytest.raises(TypeError, match="regularizer identifier 3"):
        R.get(3)


@given(l1=factors, l2=factors)
def test_serialize_round_trip(l1, l2):
    for reg in (R.L1(l1), R.L2(l2), R.L1L2(l1, l2)):
        config = R.serialize(reg)
        assert config["class_name"] == type(reg).__name__
        again = R.deserialize(config)
        assert type(again) is type(reg) and again.get_config() == reg.get_config()
        assert type(again).from_config(reg.get_config()) == reg
    assert R.serialize(None) is None and R.deserialize(None) is None


def test_lambdas_cannot_be_serialized():
    with pytest.raises(ValueError, match="Cannot serialize regularizer"):
        R.serialize(lambda w: w.sum())


# -- in a layer ------------------------------------------------------------------------------


def test_layer_losses_match_keras_example():
    # Keras' Regularizer docs: kernel of ones, L1(0.01) -> 0.01 * 25 = 0.25; inputs all 2,
    # outputs all 10, activity L2(0.01) -> 0.01 * 25 * 100 = 25, divided by batch 5 -> 5.0
    layer = Dense(
        5,
        input_dim=5,
        kernel_initializer="ones",
        kernel_regularizer=R.L1(0.01),
        activity_regularizer=R.L2(0.01),
    )
    assert [float(p.data) for p in layer.losses] == [pytest.approx(0.25)]
    layer(np.full((5, 5), 2.0, dtype=np.float32))
    values = [float(p.data) for p in layer.losses]
    assert values == [pytest.approx(0.25), pytest.approx(5.0)]


def test_a_plain_function_works_as_a_regularizer():
    layer = Dense(
        5, input_dim=5, kernel_initializer="ones", kernel_regularizer=lambda w: 0.5 * (w * w).sum()
    )
    assert float(layer.losses[0].data) == pytest.approx(12.5)


def test_frozen_layers_contribute_no_weight_penalty():
    layer = Dense(3, input_dim=2, kernel_regularizer="l2", bias_regularizer="l1")
    assert len(layer.losses) == 2
    layer.trainable = False
    assert layer.losses == []


def _linear_model(**dense_kwargs):
    model = Sequential([Dense(1, input_dim=3, **dense_kwargs)])
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    return model


def test_train_on_batch_with_l2_is_the_hand_computed_sgd_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 1))
    l2, l1, lr = 0.05, 0.03, 0.1
    model = _linear_model(
        kernel_regularizer=R.L2(l2),
        bias_regularizer=R.L1(l1),
        bias_initializer="ones",
        dtype="float64",
    )
    w = model.layers[0].kernel.data.copy()
    b = model.layers[0].bias.data.copy()
    residual = x @ w + b - y
    mse = (residual**2).mean()
    # d/dw mean((xw + b - y)^2) = 2/n x^T r;  d/dw l2*sum w^2 = 2 l2 w;  d/db l1*|b| = l1*sign(b)
    w_new = w - lr * (2 / len(x) * x.T @ residual + 2 * l2 * w)
    b_new = b - lr * (2 / len(x) * residual.sum(axis=0) + l1 * np.sign(b))
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(mse + l2 * (w**2).sum() + l1 * np.abs(b).sum(), rel=1e-10)
    np.testing.assert_allclose(model.layers[0].kernel.data, w_new, rtol=1e-10)
    np.testing.assert_allclose(model.layers[0].bias.data, b_new, rtol=1e-10)


def test_activity_regularizer_joins_the_training_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3))
    y = rng.normal(size=(6, 1))
    a, lr = 0.2, 0.1
    model = _linear_model(activity_regularizer=R.L2(a), use_bias=False, dtype="float64")
    w = model.layers[0].kernel.data.copy()
    out = x @ w
    n = len(x)
    # loss = mean((out - y)^2) + a * sum(out^2) / n, both with gradient x^T(...) wrt w
    expected_loss = ((out - y) ** 2).mean() + a * (out**2).sum() / n
    w_new = w - lr * (2 / n * x.T @ (out - y) + 2 * a / n * x.T @ out)
    assert model.train_on_batch(x, y) == pytest.approx(expected_loss, rel=1e-10)
    np.testing.assert_allclose(model.layers[0].kernel.data, w_new, rtol=1e-10)


def test_activity_regularizer_on_a_sigmoid_output_is_counted():
    # the sigmoid + cross-entropy fusion must not skip the activity penalty on the sigmoid
    rng = np.random.default_rng(2)
    x = rng.normal(size=(10, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    plain = Sequential([Dense(1, input_dim=3, activation="sigmoid", kernel_initializer="ones")])
    reg = Sequential(
        [
            Dense(
                1,
                input_dim=3,
                activation="sigmoid",
                kernel_initializer="ones",
                activity_regularizer=R.L1(0.5),
            )
        ]
    )
    for m in (plain, reg):
        m.compile(optimizer="sgd", loss="binary_crossentropy")
    p = plain.predict(x, verbose=0)
    base = plain.evaluate(x, y, verbose=0)
    # activity L1 on sigmoid outputs (all positive): 0.5 * sum(p) / n
    assert reg.evaluate(x, y, verbose=0) == pytest.approx(base + 0.5 * p.sum() / len(x), rel=1e-5)


def test_evaluate_includes_the_weight_penalty():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = rng.normal(size=(20, 1)).astype(np.float32)
    model = _linear_model(kernel_regularizer=R.L2(0.1))
    mse = float(((model.predict(x, verbose=0) - y) ** 2).mean())
    penalty = 0.1 * float((model.layers[0].kernel.data.astype(np.float64) ** 2).sum())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(mse + penalty, rel=1e-5)
    assert [float(p.data) for p in model.losses] == [pytest.approx(penalty, rel=1e-5)]


def _fit_kernel_norm(regularizer):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.array([[3.0], [-2.0], [1.0], [0.5]]) > 0).astype(np.float32)
    # seeded initializers: both runs start from the same weights
    model = Sequential(
        [
            Dense(
                8,
                input_dim=4,
                activation="tanh",
                kernel_initializer=GlorotUniform(seed=1),
                kernel_regularizer=regularizer,
            ),
            Dense(
                1,
                activation="sigmoid",
                kernel_initializer=GlorotUniform(seed=2),
                kernel_regularizer=regularizer,
            ),
        ]
    )
    model.compile(optimizer=SGD(0.5), loss="binary_crossentropy")
    model.fit(x, y, epochs=30, batch_size=16, verbose=0, seed=0)
    return sum(float((layer.kernel.data.astype(np.float64) ** 2).sum()) for layer in model.layers)


def test_l2_shrinks_weights_compared_with_no_regularizer():
    assert _fit_kernel_norm(R.L2(0.01)) < 0.8 * _fit_kernel_norm(None)


# -- config round trips ----------------------------------------------------------------------


def _regularized_model():
    model = Sequential(
        [
            Dense(
                4,
                input_dim=3,
                activation="relu",
                kernel_regularizer=R.L1L2(0.01, 0.02),
                bias_regularizer="l2",
                activity_regularizer=R.L1(0.003),
            ),
            Dense(1, kernel_regularizer=R.l2(1e-4)),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_dense_config_round_trip():
    layer = _regularized_model().layers[0]
    config = layer.get_config()
    assert config["kernel_regularizer"] == {
        "class_name": "L1L2",
        "config": {"l1": 0.01, "l2": 0.02},
    }
    assert config["bias_regularizer"] == {"class_name": "L2", "config": {"l2": 0.01}}
    assert config["activity_regularizer"] == {"class_name": "L1", "config": {"l1": 0.003}}
    again = Dense.from_config(config)
    assert again.get_config() == config
    assert again.kernel_regularizer == R.L1L2(0.01, 0.02)


def test_save_and_load_keep_the_regularizers(tmp_path):
    model = _regularized_model()
    x = np.random.default_rng(5).normal(size=(16, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "reg.tgm")
    loaded = load_model(tmp_path / "reg.tgm")
    assert loaded.get_config() == model.get_config()
    assert loaded.layers[0].activity_regularizer == R.L1(0.003)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-6
    )
