"""The new single-input layers side by side with real Keras 3 (torch backend)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (it is in the 'test' extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from tinygrad_mlp import layers as L  # noqa: E402
from tinygrad_mlp.models import Sequential, load_model  # noqa: E402
from tinygrad_mlp.optimizers import SGD  # noqa: E402

RNG = np.random.default_rng(0)

# name: (make(layers_module), input shape per sample)
LAYERS = {
    "Identity": (lambda m: m.Identity(), (3,)),
    "Flatten": (lambda m: m.Flatten(), (2, 3)),
    "Reshape": (lambda m: m.Reshape((3, 2)), (6,)),
    "Reshape(-1)": (lambda m: m.Reshape((-1, 2)), (2, 3)),
    "Rescaling": (lambda m: m.Rescaling(0.5, offset=-1.0), (4,)),
    "ReLU": (lambda m: m.ReLU(), (5,)),
    "ReLU(options)": (lambda m: m.ReLU(max_value=1.2, negative_slope=0.1, threshold=0.3), (5,)),
    "LeakyReLU": (lambda m: m.LeakyReLU(), (5,)),
    "LeakyReLU(0.05)": (lambda m: m.LeakyReLU(negative_slope=0.05), (5,)),
    "PReLU": (lambda m: m.PReLU(alpha_initializer="random_uniform"), (4,)),
    "PReLU(shared)": (
        lambda m: m.PReLU(alpha_initializer="random_uniform", shared_axes=[1]),
        (2, 3),
    ),
    "ELU": (lambda m: m.ELU(alpha=0.7), (5,)),
    "Softmax": (lambda m: m.Softmax(), (4,)),
    "Softmax(axis 1)": (lambda m: m.Softmax(axis=1), (3, 2)),
    "GaussianNoise": (lambda m: m.GaussianNoise(0.3), (4,)),
    "GaussianDropout": (lambda m: m.GaussianDropout(0.3), (4,)),
    "LayerNormalization": (lambda m: m.LayerNormalization(), (6,)),
    "LayerNormalization(no center)": (
        lambda m: m.LayerNormalization(center=False, epsilon=1e-5),
        (6,),
    ),
    "Normalization": (
        lambda m: m.Normalization(mean=[1.0, -1.0, 0.5], variance=[4.0, 0.25, 1.0]),
        (3,),
    ),
    "Embedding": (lambda m: m.Embedding(10, 3), (4,)),
}


def twin(name):
    make, shape = LAYERS[name]
    ours, theirs = make(L), make(keras.layers)
    x = RNG.integers(0, 10, (5,) + shape).astype("float32") if name == "Embedding" else (
        RNG.standard_normal((5,) + shape).astype("float32"))  # fmt: skip
    theirs.build((None,) + shape)
    ours.build((None,) + shape)
    if theirs.get_weights():
        ours.set_weights(theirs.get_weights())
    return ours, theirs, x


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_inference_output_and_shapes_equal_keras(name):
    ours, theirs, x = twin(name)
    got = ours(x).data
    expected = keras.ops.convert_to_numpy(theirs(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    shape = (None,) + x.shape[1:]
    assert tuple(ours.compute_output_shape(shape)) == tuple(theirs.compute_output_shape(shape))
    assert ours.count_params() == theirs.count_params()
    again = type(ours).from_config(ours.get_config())  # the config rebuilds the layer
    again.build(shape)
    if ours.get_weights():
        again.set_weights(ours.get_weights())
    np.testing.assert_allclose(again(x).data, got, rtol=1e-6)


def test_normalization_adapt_equals_keras():
    data = (RNG.standard_normal((200, 3)) * [1.0, 5.0, 0.1] + [2.0, -3.0, 0.0]).astype("float32")
    ours, theirs = L.Normalization(), keras.layers.Normalization()
    ours.adapt(data)
    theirs.adapt(data)
    x = data[:7]
    np.testing.assert_allclose(
        ours(x).data, keras.ops.convert_to_numpy(theirs(x)), rtol=1e-4, atol=1e-5
    )
    inverse = L.Normalization(mean=ours.mean.data, variance=ours.variance.data, invert=True)
    assert ours.count_params() == theirs.count_params()  # mean, variance and count
    np.testing.assert_allclose(inverse(ours(x)).data, x, rtol=1e-5, atol=1e-5)


def test_noise_layers_only_act_in_training():
    x = np.ones((2000, 4), dtype="float32")
    for layer in (L.GaussianNoise(0.5, seed=0), L.GaussianDropout(0.2, seed=0)):
        np.testing.assert_array_equal(layer(x).data, x)  # inference: the identity
        noisy = layer(x, training=True).data
        assert abs(noisy.mean() - 1.0) < 0.05
        expected_std = 0.5 if isinstance(layer, L.GaussianNoise) else np.sqrt(0.2 / 0.8)
        assert abs(noisy.std() - expected_std) < 0.05


def test_one_training_step_through_the_new_layers_equals_keras():
    """Gradients through LayerNormalization, PReLU, ELU, Rescaling and Softmax, as Keras'."""
    x = RNG.standard_normal((16, 4)).astype("float32")
    y = np.eye(3)[RNG.integers(0, 3, 16)].astype("float32")

    def build(m, d):
        return [d(6), m.LayerNormalization(), m.PReLU(alpha_initializer="random_uniform"),
                m.Rescaling(0.5), d(5), m.ELU(0.8), d(3), m.Softmax()]  # fmt: skip

    theirs = keras.Sequential([keras.Input((4,)), *build(keras.layers, keras.layers.Dense)])
    ours = Sequential(build(L, L.Dense))
    ours.build((None, 4))
    ours.set_weights(theirs.get_weights())
    ours.compile(loss="categorical_crossentropy", optimizer=SGD(0.5))
    theirs.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    h1 = ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    h2 = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_model_with_every_new_layer_summarises_saves_and_loads(tmp_path, capsys):
    norm = L.Normalization()
    norm.adapt(RNG.standard_normal((50, 6)))
    model = Sequential([
        L.Reshape((2, 3), input_shape=(6,)), L.Flatten(), norm, L.Identity(), L.Rescaling(2.0),
        L.Dense(8), L.LayerNormalization(), L.PReLU(), L.ReLU(max_value=6.0), L.LeakyReLU(),
        L.ELU(), L.GaussianNoise(0.1), L.GaussianDropout(0.1), L.Dense(3), L.Softmax(),
    ])  # fmt: skip
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    x = RNG.standard_normal((10, 6)).astype("float32")
    model.summary()
    table = capsys.readouterr().out
    for name in ("Reshape", "Flatten", "Normalization", "LayerNormalization", "PReLU", "Softmax"):
        assert name in table
    path = tmp_path / "every_layer.tgm"
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    from tinygrad_mlp.utils import plot_model

    plot_model(model, to_file=tmp_path / "every_layer.png", show_shapes=True)
    assert (tmp_path / "every_layer.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="target_shape"):
        L.Reshape((2, -1, -1))
    with pytest.raises(ValueError, match="cannot be reshaped"):
        L.Reshape((4,))(np.ones((2, 6)))
    with pytest.raises(ValueError, match="integer indices in \\[0, 5\\)"):
        L.Embedding(5, 2)(np.array([[1.0, 7.0]]))
    with pytest.raises(ValueError, match="both mean and variance"):
        L.Normalization(mean=[0.0])
    with pytest.raises(ValueError, match="rate"):
        L.GaussianDropout(1.5)
