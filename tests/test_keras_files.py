"""Keras 3's own files (``.keras``, ``.weights.h5``) both ways, with real Keras (torch backend).

What this library saves, Keras loads; what Keras saves, this library loads: the
predictions agree, the optimizer's variables agree, and training resumed in
either library continues identically.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (it is in the 'test' extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

import tinygrad_mlp as tm  # noqa: E402

RNG = np.random.default_rng(5)
X = RNG.standard_normal((32, 3)).astype("float32")
Y = (X[:, :1] + X[:, 1:2] > 0).astype("float32")
X2 = RNG.standard_normal((32, 2)).astype("float32")
Y2 = RNG.standard_normal((32, 2)).astype("float32")

OPTIMIZERS = {
    "SGD": lambda k: k.optimizers.SGD(0.05),
    "SGD(momentum)": lambda k: k.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "Adam": lambda k: k.optimizers.Adam(0.01),
    "Adam(amsgrad)": lambda k: k.optimizers.Adam(0.01, amsgrad=True),
    "AdamW": lambda k: k.optimizers.AdamW(0.01),
    "RMSprop(centered)": lambda k: k.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "Nadam": lambda k: k.optimizers.Nadam(0.01),
    "Adagrad": lambda k: k.optimizers.Adagrad(0.05),
    "Adamax": lambda k: k.optimizers.Adamax(0.01),
    "Adadelta": lambda k: k.optimizers.Adadelta(1.0),
    "Ftrl": lambda k: k.optimizers.Ftrl(0.05),
    "Lion": lambda k: k.optimizers.Lion(0.001),
}


def course_mlp(k, optimizer):
    """The course's circle network with a regularizer and batch normalization."""
    model = k.Sequential(
        [k.Input((3,)),
         k.layers.Dense(8, activation="tanh", name="hidden",
                        kernel_regularizer=k.regularizers.L2(0.01)),
         k.layers.BatchNormalization(name="bn"),
         k.layers.Dense(1, activation="sigmoid", name="out")],
        name="circle",
    )  # fmt: skip
    model.compile(optimizer=OPTIMIZERS[optimizer](k), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def two_input(k):
    a, b = k.Input((3,), name="a"), k.Input((2,), name="b")
    h = k.layers.Dense(6, activation="relu", name="hidden")(
        k.layers.Concatenate(name="join")([a, b])
    )
    out1 = k.layers.Dense(1, activation="sigmoid", name="out1")(h)
    out2 = k.layers.Dense(2, name="out2")(h)
    model = k.Model([a, b], [out1, out2], name="two_input")
    model.compile(optimizer=k.optimizers.Adam(0.01), loss=["binary_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5])  # fmt: skip
    return model


def close(a, b, tol=1e-6):
    for p, q in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b],
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(p, q, rtol=tol, atol=tol)


def assert_same_optimizer_state(ours, theirs):
    """Keras' optimizer variables (iteration, learning rate, slots) equal ours, in its order."""
    from tinygrad_mlp.keras_format import _optimizer_arrays

    mine = _optimizer_arrays(ours)
    keras_values = [np.asarray(v.numpy()) for v in theirs.optimizer.variables]
    assert len(mine) == len(keras_values)
    for a, b in zip(mine, keras_values, strict=True):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                   rtol=1e-6, atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_ours_to_keras_and_back(optimizer, tmp_path):
    ours = course_mlp(tm, optimizer)
    ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    close(ours.predict(X, verbose=0), theirs.predict(X, verbose=0))
    assert int(theirs.optimizer.iterations) == ours.optimizer.iterations == 8
    assert_same_optimizer_state(ours, theirs)
    # training resumed in both libraries continues identically
    h_ours = ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=1e-5)
    # and back: what Keras saves after its training, this library loads and resumes
    theirs.save(tmp_path / "theirs.keras")
    again = tm.models.load_model(tmp_path / "theirs.keras")
    close(again.predict(X, verbose=0), theirs.predict(X, verbose=0))
    assert again.optimizer.iterations == 16
    assert type(again.optimizer).__name__ == type(theirs.optimizer).__name__.replace("Torch", "")
    assert_same_optimizer_state(again, theirs)
    h_again = again.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_again.history["loss"], h_theirs.history["loss"], rtol=1e-5)


def test_keras_file_of_a_fresh_keras_model_loads_here(tmp_path):
    theirs = course_mlp(keras, "Adam")
    theirs.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    theirs.save(tmp_path / "k.keras")
    ours = tm.models.load_model(tmp_path / "k.keras")
    close(ours.predict(X, verbose=0), theirs.predict(X, verbose=0))
    for ours_w, their_w in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(ours_w, their_w)
    assert [layer.name for layer in ours.layers] == ["hidden", "bn", "out"]


def test_functional_two_input_model_both_ways(tmp_path):
    ours = two_input(tm)
    ours.fit([X, X2], [Y, Y2], epochs=2, batch_size=8, shuffle=False, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    close(ours.predict([X, X2], verbose=0), theirs.predict([X, X2], verbose=0))
    h_ours = ours.fit([X, X2], [Y, Y2], epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit([X, X2], [Y, Y2], epochs=2, batch_size=8, shuffle=False, verbose=0)
    for key in ("loss", "out1_loss", "out2_loss"):
        np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], rtol=1e-5)
    theirs.save(tmp_path / "theirs.keras")
    again = tm.models.load_model(tmp_path / "theirs.keras")
    close(again.predict([X, X2], verbose=0), theirs.predict([X, X2], verbose=0))
    assert [t.shape for t in again.inputs] == [(None, 3), (None, 2)]


def test_weights_h5_both_ways(tmp_path):
    ours, theirs = course_mlp(tm, "Adam"), course_mlp(keras, "Adam")
    ours.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    close(ours.predict(X, verbose=0), theirs.predict(X, verbose=0))
    theirs.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    fresh = course_mlp(tm, "Adam")
    fresh.load_weights(tmp_path / "theirs.weights.h5")
    close(fresh.predict(X, verbose=0), theirs.predict(X, verbose=0))


LAYERS = {
    "Dropout": lambda k: k.layers.Dropout(0.3),
    "Activation": lambda k: k.layers.Activation("relu"),
    "Flatten": lambda k: k.layers.Flatten(),
    "Reshape": lambda k: k.layers.Reshape((4, 2)),
    "Rescaling": lambda k: k.layers.Rescaling(0.5, offset=1.0),
    "ReLU": lambda k: k.layers.ReLU(max_value=2.0, negative_slope=0.1),
    "LeakyReLU": lambda k: k.layers.LeakyReLU(negative_slope=0.2),
    "PReLU": lambda k: k.layers.PReLU(alpha_initializer="random_uniform"),
    "ELU": lambda k: k.layers.ELU(alpha=0.5),
    "Softmax": lambda k: k.layers.Softmax(),
    "GaussianNoise": lambda k: k.layers.GaussianNoise(0.2),
    "GaussianDropout": lambda k: k.layers.GaussianDropout(0.2),
    "LayerNormalization": lambda k: k.layers.LayerNormalization(),
    "BatchNormalization": lambda k: k.layers.BatchNormalization(momentum=0.9),
    "Identity": lambda k: k.layers.Identity(),
    "Dense(constraint)": lambda k: k.layers.Dense(
        8, kernel_constraint=k.constraints.MaxNorm(1.5), bias_initializer="ones"
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_travels_both_ways(name, tmp_path):
    def model(k):
        middle = LAYERS[name](k)
        return k.Sequential(
            [k.Input((3,)), k.layers.Dense(8, name="first"), middle,
             k.layers.Flatten(name="flat"), k.layers.Dense(2, name="last")]
        )  # fmt: skip

    ours = model(tm)
    ours.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    close(ours.predict(X, verbose=0), theirs.predict(X, verbose=0), 1e-5)
    theirs.save(tmp_path / "theirs.keras")
    again = tm.models.load_model(tmp_path / "theirs.keras")
    close(again.predict(X, verbose=0), theirs.predict(X, verbose=0), 1e-5)
    assert type(again.layers[1]).__name__ == type(theirs.layers[1]).__name__


def test_extensions_say_the_format(tmp_path):
    model = course_mlp(tm, "SGD")
    for bad in ("m.hdf", "m.zip", "m"):
        with pytest.raises(ValueError, match="valid extensions"):
            model.save(tmp_path / bad)
    with pytest.raises(ValueError, match="valid extensions"):
        model.save_weights(tmp_path / "w.npz")
    model.save(tmp_path / "m.keras")
    assert set(zipfile.ZipFile(tmp_path / "m.keras").namelist()) == {
        "metadata.json", "config.json", "model.weights.h5"}  # fmt: skip
    model.save(tmp_path / "m.tgm")
    assert "model.weights.h5" not in zipfile.ZipFile(tmp_path / "m.tgm").namelist()
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "m.tgm"]


def test_a_keras_lambda_is_refused(tmp_path):
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp))
    model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="Lambda"):
        tm.models.load_model(tmp_path / "lam.keras")


def test_nonfinite_weights_are_refused_unless_allowed(tmp_path):
    theirs = course_mlp(keras, "SGD")
    weights = theirs.get_weights()
    weights[0][0, 0] = np.nan
    theirs.set_weights(weights)
    theirs.save(tmp_path / "nan.keras")
    with pytest.raises(ValueError, match="NaN"):
        tm.models.load_model(tmp_path / "nan.keras")
    model = tm.models.load_model(tmp_path / "nan.keras", allow_nonfinite=True)
    assert np.isnan(model.get_weights()[0][0, 0])


@pytest.mark.parametrize("program", ["course", "two_input"])
def test_legacy_h5_both_ways(program, tmp_path):
    """Keras' legacy whole-model ``.h5`` (the slides' ``model.save("my_keras_model.h5")``).

    Keras 3 restores only the step count and the learning rate from a ``.h5`` (its own
    files too), and cannot resume training from one; so training resumed here is compared
    with the Keras model that wrote the file, continuing in memory. Keras 3 cannot compile
    a two-output model from a ``.h5`` either (its own file fails with "Could not deserialize
    'keras.metrics.mse'"), so it reads that one with ``compile=False``.
    """
    make = (lambda k: course_mlp(k, "Adam")) if program == "course" else two_input
    x = X if program == "course" else [X, X2]
    y = Y if program == "course" else [Y, Y2]
    ours = make(tm)
    ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    ours.save(tmp_path / "ours.h5")
    theirs = keras.saving.load_model(tmp_path / "ours.h5", compile=program == "course")
    close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0))
    if program == "course":
        assert int(theirs.optimizer.iterations) == 8

    theirs = make(keras)
    theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs.save(tmp_path / "theirs.h5")
    again = tm.models.load_model(tmp_path / "theirs.h5")
    close(again.predict(x, verbose=0), theirs.predict(x, verbose=0))
    assert again.optimizer.iterations == 8
    h_again = again.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_theirs = theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_again.history["loss"], h_theirs.history["loss"], rtol=1e-5)
