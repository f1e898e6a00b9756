"""The model family side by side with real Keras 3 (torch backend).

Each program is written once against a namespace (``keras`` or
``tinygrad_mlp``): the same calls build the same model in both libraries. Ours
then takes Keras' initial weights, both train on the same data, and the
History, the evaluation, the predictions and the printed summary must agree.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (it is in the 'test' extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

import tinygrad_mlp as tm  # noqa: E402

RNG = np.random.default_rng(7)
X1 = RNG.standard_normal((32, 3)).astype("float32")
X2 = RNG.standard_normal((32, 2)).astype("float32")
Y1 = (X1[:, :1] + X2[:, :1] > 0).astype("float32")
Y2 = np.stack([X1[:, 1] * X2[:, 1], X1[:, 2] - X2[:, 0]], axis=1).astype("float32")


def assert_history_close(ours, theirs, rtol=1e-4):
    assert sorted(ours.history) == sorted(theirs.history)
    for key in theirs.history:
        np.testing.assert_allclose(ours.history[key], theirs.history[key], rtol=rtol, atol=1e-6,
                                   err_msg=key)  # fmt: skip


def assert_predictions_close(ours, theirs, x):
    np.testing.assert_allclose(
        ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )


def summary_lines(model):
    lines = []
    model.summary(print_fn=lambda text, *a, **k: lines.extend(str(text).split("\n")))
    return [line.rstrip() for line in lines if line.strip()]


def twins(program, *args):
    theirs = program(keras, *args)
    ours = program(tm, *args)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


# -- the programs --------------------------------------------------------------------


def two_input(k):
    a = k.Input((3,), name="a")
    b = k.Input((2,), name="b")
    h = k.layers.Concatenate(name="joined")([a, b])
    h = k.layers.Dense(8, activation="relu", name="hidden")(h)
    out1 = k.layers.Dense(1, activation="sigmoid", name="out1")(h)
    out2 = k.layers.Dense(2, name="out2")(h)
    model = k.Model([a, b], [out1, out2], name="two_input")
    model.compile(
        optimizer=k.optimizers.SGD(0.05, momentum=0.9),
        loss=["binary_crossentropy", "mse"],
        loss_weights=[1.0, 0.5],
        metrics=[["accuracy"], ["mae"]],
    )
    return model


def subclassed(k):
    class Scale(k.layers.Layer):
        def call(self, x):  # no training argument: Keras passes it only when call takes it
            return x * 0.5

    class TwoLayer(k.Model):
        def __init__(self):
            super().__init__(name="two_layer")
            self.hidden = k.layers.Dense(6, activation="tanh")
            self.scale = Scale()
            self.head = k.layers.Dense(1, activation="sigmoid")

        def call(self, x, training=None):
            return self.head(self.scale(self.hidden(x)))

    model = TwoLayer()
    model(X1[:2])  # a first call creates the weights
    model.compile(optimizer=k.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def nested(k):
    block = k.Sequential(
        [k.layers.Dense(5, activation="relu", name="b1"),
         k.layers.Dense(4, activation="tanh", name="b2")], name="block"
    )  # fmt: skip
    model = k.Sequential(
        [k.Input((3,)), block, k.layers.Dense(1, activation="sigmoid", name="head")],
        name="outer",
    )
    model.compile(optimizer=k.optimizers.RMSprop(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def merged(k, merge):
    a = k.Input((3,), name="a")
    b = k.Input((3,), name="b")
    m = getattr(k.layers, merge)(name="merge")([k.layers.Dense(3, name="da")(a), b])
    out = k.layers.Dense(1, name="out")(m)
    model = k.Model([a, b], out, name="merged")
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse")
    return model


# -- the tests -------------------------------------------------------------------------


def test_two_input_functional_model_trains_as_keras():
    ours, theirs = twins(two_input)
    kwargs = dict(epochs=4, batch_size=8, shuffle=False, verbose=0,
                  validation_data=([X1[:12], X2[:12]], [Y1[:12], Y2[:12]]))  # fmt: skip
    h_theirs = theirs.fit([X1, X2], [Y1, Y2], **kwargs)
    h_ours = ours.fit([X1, X2], [Y1, Y2], **kwargs)
    assert_history_close(h_ours, h_theirs)
    assert "out1_loss" in h_ours.history and "val_out2_mae" in h_ours.history
    np.testing.assert_allclose(
        ours.evaluate([X1, X2], [Y1, Y2], verbose=0),
        theirs.evaluate([X1, X2], [Y1, Y2], verbose=0), rtol=1e-4,
    )  # fmt: skip
    for p_ours, p_theirs in zip(ours.predict([X1, X2], verbose=0),
                                theirs.predict([X1, X2], verbose=0), strict=True):  # fmt: skip
        np.testing.assert_allclose(p_ours, p_theirs, rtol=1e-4, atol=1e-6)


def test_dict_inputs_and_outputs_train_as_keras():
    ours, theirs = twins(two_input)
    x = {"a": X1, "b": X2}
    y = {"out1": Y1, "out2": Y2}
    h_theirs = theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    h_ours = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert_history_close(h_ours, h_theirs)


def test_two_input_summary_text_equals_keras():
    ours, theirs = twins(two_input)
    assert summary_lines(ours) == summary_lines(theirs)
    theirs.fit([X1, X2], [Y1, Y2], epochs=1, verbose=0)
    ours.fit([X1, X2], [Y1, Y2], epochs=1, verbose=0)
    lines = summary_lines(ours)
    assert lines == summary_lines(theirs)
    assert any("Optimizer params" in line for line in lines)
    assert any("joined[0][0]" in line for line in lines)


def test_layer_outputs_give_a_feature_extractor_that_shares_weights():
    ours, theirs = twins(two_input)
    features = tm.Model(ours.inputs, ours.get_layer("hidden").output)
    features_k = keras.Model(theirs.inputs, theirs.get_layer("hidden").output)
    assert_predictions_close(features, features_k, [X1, X2])
    ours.fit([X1, X2], [Y1, Y2], epochs=1, verbose=0)  # training the model moves the extractor
    assert features.get_layer("hidden").kernel is ours.get_layer("hidden").kernel
    assert features.count_params() == 3 * 8 + 2 * 8 + 8


def test_a_model_is_a_layer_of_another():
    ours, theirs = twins(two_input)

    def wrap(k, inner):
        a, b = k.Input((3,), name="a2"), k.Input((2,), name="b2")
        first, _ = inner([a, b])
        return k.Model([a, b], k.layers.Dense(1, name="top")(first), name="wrapper")

    outer, outer_k = wrap(tm, ours), wrap(keras, theirs)
    outer.set_weights(outer_k.get_weights())
    assert_predictions_close(outer, outer_k, [X1, X2])
    assert len(outer.weights) == len(outer_k.weights)


def test_subclassed_model_trains_as_keras():
    ours, theirs = twins(subclassed)
    h_theirs = theirs.fit(X1, Y1, epochs=4, batch_size=8, shuffle=False, verbose=0)
    h_ours = ours.fit(X1, Y1, epochs=4, batch_size=8, shuffle=False, verbose=0)
    assert_history_close(h_ours, h_theirs)
    np.testing.assert_allclose(ours.predict(X1, verbose=0), theirs.predict(X1, verbose=0),
                               rtol=1e-4, atol=1e-6)  # fmt: skip


def test_subclassed_dropout_follows_fit_training_flag():
    class WithDropout(tm.Model):
        def __init__(self):
            super().__init__()
            self.drop = tm.layers.Dropout(0.99, seed=1)

        def call(self, x, training=None):
            return self.drop(x)  # no training= here: it comes from the model's call

    model = WithDropout()
    x = np.ones((4, 3), "float32")
    assert np.array_equal(model(x).data, x)
    assert not np.array_equal(model(x, training=True).data, x)


def test_nested_sequential_trains_and_prints_as_keras():
    ours, theirs = twins(nested)
    h_theirs = theirs.fit(X1, Y1, epochs=3, batch_size=8, shuffle=False, verbose=0)
    h_ours = ours.fit(X1, Y1, epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert_history_close(h_ours, h_theirs)
    assert summary_lines(ours) == summary_lines(theirs)


@pytest.mark.parametrize(
    "merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]
)
def test_merge_layers_equal_keras(merge):
    ours, theirs = twins(merged, merge)
    b = RNG.standard_normal((32, 3)).astype("float32")
    y = RNG.standard_normal((32, 1)).astype("float32")
    assert_predictions_close(ours, theirs, [X1, b])
    h_theirs = theirs.fit([X1, b], y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    h_ours = ours.fit([X1, b], y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert_history_close(h_ours, h_theirs)
    layer, layer_k = ours.get_layer("merge"), theirs.get_layer("merge")
    assert layer.output.shape == tuple(layer_k.output.shape)
    assert set(layer.get_config()) <= set(layer_k.get_config()) | {"batch_input_shape"}


def test_generator_training_equals_keras():
    def batches(x, y, size):
        while True:
            for i in range(0, len(x), size):
                yield x[i : i + size], y[i : i + size]

    h = {}
    for name, k in (("theirs", keras), ("ours", tm)):
        model = nested(k)
        if name == "theirs":
            weights = model.get_weights()
        else:
            model.set_weights(weights)
        h[name] = model.fit(
            batches(X1, Y1, 8), steps_per_epoch=4, epochs=3, verbose=0,
            validation_data=batches(X1[:16], Y1[:16], 8), validation_steps=2,
        )  # fmt: skip
    assert_history_close(h["ours"], h["theirs"])
    assert len(h["ours"].history["val_loss"]) == 3


def test_pydataset_training_equals_keras():
    def dataset(k):
        class Batches(k.utils.PyDataset):
            def __init__(self, x, y, size, **kwargs):
                super().__init__(**kwargs)
                self.x, self.y, self.size = x, y, size
                self.epochs_ended = 0

            def __len__(self):
                return int(np.ceil(len(self.x) / self.size))

            def __getitem__(self, i):
                s = slice(i * self.size, (i + 1) * self.size)
                return self.x[s], self.y[s]

            def on_epoch_end(self):
                self.epochs_ended += 1

        return Batches(X1, Y1, 10)

    ours, theirs = twins(nested)
    ds_ours, ds_theirs = dataset(tm), dataset(keras)
    h_theirs = theirs.fit(ds_theirs, epochs=3, shuffle=False, verbose=0)
    h_ours = ours.fit(ds_ours, epochs=3, shuffle=False, verbose=0)
    assert_history_close(h_ours, h_theirs)
    assert ds_ours.epochs_ended == 3
    np.testing.assert_allclose(ours.evaluate(ds_ours, verbose=0),
                               theirs.evaluate(ds_theirs, verbose=0), rtol=1e-4)  # fmt: skip


def test_pandas_frames_train_as_arrays():
    pandas = pytest.importorskip("pandas", reason="pandas is in the 'test' extra")
    ours, theirs = twins(nested)
    frame, target = pandas.DataFrame(X1, columns=list("pqr")), pandas.Series(Y1[:, 0])
    h_theirs = theirs.fit(frame, target, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_ours = ours.fit(frame, target, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert_history_close(h_ours, h_theirs)


def test_unbuilt_sequential_summary_equals_keras():
    def unbuilt(k):
        return k.Sequential([k.layers.Dense(3, name="d1"), k.layers.Dense(1, name="d2")],
                            name="unbuilt")  # fmt: skip

    assert summary_lines(unbuilt(tm)) == summary_lines(unbuilt(keras))


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_optimizer_params_line_equals_keras(optimizer):
    def model(k):
        m = k.Sequential([k.Input((3,)), k.layers.Dense(4, name="d1"),
                          k.layers.Dense(1, name="d2")], name="opt")  # fmt: skip
        m.compile(optimizer=optimizer, loss="mse")
        return m

    ours, theirs = twins(model)
    theirs.fit(X1, Y1, epochs=1, verbose=0)
    ours.fit(X1, Y1, epochs=1, verbose=0)
    assert summary_lines(ours) == summary_lines(theirs)


def test_printed_weights_look_like_keras_variables():
    """Equal text, but for the path: ours is ``layer/weight``; Keras prefixes the names of
    the models that built the layer (``outer/block/b1/kernel``)."""
    import re

    ours, theirs = twins(nested)

    def unscoped(text):
        return re.sub(r"path=(?:[\w]+/)*([\w]+/[\w]+),", r"path=\1,", text)

    assert str(ours.weights) == unscoped(str(theirs.weights))
    assert "value=[[" in str(ours.weights) and "<Variable path=b1/kernel" in str(ours.weights)
    assert repr(ours.layers[-1].weights) == unscoped(repr(theirs.layers[-1].weights))


def test_to_json_and_clone_model_rebuild_the_graph():
    ours, _ = twins(two_input)
    again = tm.models.model_from_json(ours.to_json())
    assert [layer.name for layer in again.layers] == [layer.name for layer in ours.layers]
    again.set_weights(ours.get_weights())
    for p, q in zip(again.predict([X1, X2], verbose=0), ours.predict([X1, X2], verbose=0),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(p, q)
    clone = tm.models.clone_model(ours)
    assert clone.get_layer("hidden") is not ours.get_layer("hidden")
    assert [w.shape for w in clone.weights] == [w.shape for w in ours.weights]
    assert summary_lines(clone)[1:] == summary_lines(ours)[1:]


def test_evaluate_and_predict_take_generators_as_keras():
    ours, theirs = twins(nested)

    def xy():
        for i in range(0, 32, 8):
            yield X1[i : i + 8], Y1[i : i + 8]

    def x_only():
        for i in range(0, 32, 8):
            yield (X1[i : i + 8],)

    np.testing.assert_allclose(ours.evaluate(xy(), verbose=0), theirs.evaluate(xy(), verbose=0),
                               rtol=1e-5)  # fmt: skip
    for steps in (None, 2):
        np.testing.assert_allclose(
            ours.predict(x_only(), steps=steps, verbose=0),
            theirs.predict(x_only(), steps=steps, verbose=0), rtol=1e-5, atol=1e-6,
        )  # fmt: skip
