"""Layers: shapes, weights, config round trips, training/inference behaviour, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.engine import Value, grad
from tinygrad_mlp.layers import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Input,
    InputLayer,
    Layer,
    clear_session,
    deserialize,
    serialize,
)


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 6),
    nin=st.integers(1, 7),
    units=st.integers(1, 7),
    use_bias=st.booleans(),
)
def test_dense_is_an_affine_map_then_activation(batch, nin, units, use_bias):
    layer = Dense(units, activation="tanh", use_bias=use_bias, bias_initializer="ones")
    x = np.random.default_rng(0).normal(size=(batch, nin)).astype(np.float32)
    y = layer(x)
    assert layer.kernel.shape == (nin, units)
    assert layer.kernel.dtype == np.float32
    expected = x @ layer.kernel.data + (1.0 if use_bias else 0.0)
    np.testing.assert_allclose(y.data, np.tanh(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        layer.call_linear(Value(x, requires_grad=False)).data, expected, rtol=1e-5, atol=1e-6
    )
    assert layer.output_shape == (None, units)
    assert layer.count_params() == nin * units + (units if use_bias else 0)


def test_dense_names_are_unique_per_class_like_keras():
    clear_session()
    names = [Dense(1).name, Dense(1).name, Dropout(0.1).name, Dense(1).name]
    assert names == ["dense", "dense_1", "dropout", "dense_2"]
    assert BatchNormalization().name == "batch_normalization"
    assert Dense(1, name="out").name == "out"


def test_weights_are_labelled_by_layer_and_input_dim_builds_at_once():
    layer = Dense(3, input_dim=2, name="hidden")
    assert layer.built
    assert [w.label for w in layer.weights] == ["hidden/kernel", "hidden/bias"]
    assert layer.input_shape == (None, 2)
    assert Dense(3, input_shape=(4,)).kernel.shape == (4, 3)


def test_dense_kernel_gradient_is_x_transpose_times_upstream():
    layer = Dense(2, input_dim=3)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = layer(x).sum()
    gk, gb = grad(out, [layer.kernel, layer.bias])
    np.testing.assert_allclose(gk, x.T @ np.ones((2, 2)))
    np.testing.assert_allclose(gb, [2.0, 2.0])


@pytest.mark.parametrize(
    "layer",
    [
        Dense(5, activation="relu", use_bias=False, kernel_initializer="he_normal", input_dim=3),
        Dropout(0.25, seed=3),
        BatchNormalization(momentum=0.9, epsilon=1e-2),
        Activation("tanh"),
    ],
)
def test_get_config_round_trip(layer):
    config = serialize(layer)
    import json

    rebuilt = deserialize(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()


def test_get_weights_set_weights_round_trip_and_shape_checks():
    layer = Dense(2, input_dim=3)
    new = [np.ones((3, 2)), np.full(2, 0.5)]
    layer.set_weights(new)
    got = layer.get_weights()
    np.testing.assert_array_equal(got[0], new[0])
    got[0][0, 0] = 99.0  # a copy: the layer keeps its own data
    assert layer.kernel.data[0, 0] == 1.0
    assert layer.kernel.dtype == np.float32
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.ones((2, 3)), np.zeros(2)])
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        layer.set_weights([np.ones((3, 2))])
    np.testing.assert_array_equal(layer.kernel.data, 1.0)


def test_wrong_input_width_names_layer_and_both_shapes():
    layer = Dense(4, input_dim=3, name="first")
    with pytest.raises(ValueError) as info:
        layer(np.ones((32, 5)))
    message = str(info.value)
    assert "first" in message and "3" in message and "(32, 5)" in message


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="Unknown activation"):
        Dense(2, activation="nope")
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        Dense(2, input_dimension=3)


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(0.05, 0.9), seed=st.integers(0, 1000))
def test_dropout_only_in_training_and_keeps_the_mean(rate, seed):
    layer = Dropout(rate, seed=seed)
    x = np.ones((200, 50), dtype=np.float32)
    np.testing.assert_array_equal(layer(x).data, x)
    y = layer(x, training=True).data
    kept = y != 0
    # survivors are scaled by 1/(1-rate) so E[y] = x
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - rate), rtol=1e-5)
    assert abs(kept.mean() - (1 - rate)) < 0.05


def test_dropout_gradient_uses_the_same_mask():
    layer = Dropout(0.5, seed=0)
    x = Value(np.ones((4, 6)))
    y = layer(x, training=True)
    (gx,) = grad(y.sum(), [x])
    np.testing.assert_array_equal(gx, y.data)  # mask * 2 for ones


def test_batchnorm_training_normalises_and_updates_moving_statistics():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(64, 3)) * [1.0, 5.0, 0.1] + [2.0, -3.0, 10.0]).astype(np.float32)
    layer = BatchNormalization(momentum=0.9, epsilon=1e-5)
    y = layer(x, training=True).data
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, rtol=1e-3)
    np.testing.assert_allclose(layer.moving_mean.data, 0.1 * x.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(layer.moving_variance.data, 0.9 + 0.1 * x.var(axis=0), rtol=1e-4)
    # inference uses the moving statistics, not the batch's
    inferred = layer(x).data
    expected = (x - layer.moving_mean.data) / np.sqrt(layer.moving_variance.data + 1e-5)
    np.testing.assert_allclose(inferred, expected, rtol=1e-4, atol=1e-4)
    # 4 weights per feature, the moving ones non-trainable
    assert layer.count_params() == 12
    assert [w.label.split("/")[1] for w in layer.non_trainable_weights] == [
        "moving_mean",
        "moving_variance",
    ]
    assert not any(w.requires_grad for w in layer.non_trainable_weights)


def test_trainable_false_freezes_weights():
    layer = Dense(2, input_dim=2)
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    out = layer(np.ones((1, 2))).sum()
    assert not out.requires_grad
    layer.trainable = True
    assert layer(np.ones((1, 2))).sum().requires_grad


def test_input_layer_and_activation_layer():
    inp = Input(shape=(7,))  # Keras 3: a symbolic tensor, made by an InputLayer
    assert inp.shape == (None, 7) and isinstance(inp._keras_history[0], InputLayer)
    act = Activation("relu")
    np.testing.assert_array_equal(act(np.array([[-1.0, 2.0]])).data, [[0.0, 2.0]])
    assert act.compute_output_shape((None, 2)) == (None, 2)


def test_base_layer_is_identity_and_unbuilt_count_params_raises():
    layer = Layer()
    with pytest.raises(ValueError, match="isn't built"):
        layer.count_params()
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(layer(x).data, x)
    assert layer.count_params() == 0


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 4),
    nin=st.integers(1, 4),
    units=st.integers(1, 4),
    use_bias=st.booleans(),
    seed=st.integers(0, 100),
)
def test_fused_dense_node_passes_gradcheck(batch, nin, units, use_bias, seed):
    from tinygrad_mlp.testing import gradcheck, gradgradcheck

    layer = Dense(units, use_bias=use_bias, dtype="float64", input_dim=nin)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, nin))
    k = rng.normal(size=(nin, units))
    b = rng.normal(size=units)

    def fn(x, k, b=None):
        layer.kernel, layer.bias = k, b
        return layer.call_linear(x).tanh()

    args = (x, k, b) if use_bias else (x, k)
    assert gradcheck(fn, *args)
    assert gradgradcheck(fn, *args)
