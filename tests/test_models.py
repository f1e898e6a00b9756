"""Sequential: structure, compile/fit/evaluate/predict, weighting, callbacks, summary, errors."""

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.callbacks import Callback
from tinygrad_mlp.layers import BatchNormalization, Dense, Dropout, Input, clear_session
from tinygrad_mlp.models import Perceptron, Sequential
from tinygrad_mlp.optimizers import SGD


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    return x, y


def _small_model(lr=0.1, momentum=0.0, metrics=("binary_accuracy",), seed=0):
    model = Sequential(
        [
            Dense(4, input_dim=2, activation="tanh", kernel_initializer=_glorot(seed)),
            Dense(1, activation="sigmoid", kernel_initializer=_glorot(seed + 1)),
        ]
    )
    model.compile(optimizer=SGD(lr, momentum), loss="binary_crossentropy", metrics=list(metrics))
    return model


def _glorot(seed):
    from tinygrad_mlp.initializers import GlorotUniform

    return GlorotUniform(seed=seed)


# -- structure -------------------------------------------------------------------


def test_summary_matches_keras_figures():
    clear_session()
    model = Sequential()
    model.add(Dense(20, input_dim=10, activation="relu"))
    model.add(Dense(4, activation="sigmoid"))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert text.startswith('Model: "sequential"')
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    # 10*20 + 20 = 220 and 20*4 + 4 = 84 (Keras' figures); 304 float32 = 1216 bytes = 1.19 KB
    rows = [line for line in text.splitlines() if "(Dense)" in line]
    assert (
        "dense (Dense)" in rows[0]
        and "(None, 20)" in rows[0]
        and rows[0].rstrip(" │").endswith("220")
    )
    assert (
        "dense_1 (Dense)" in rows[1]
        and "(None, 4)" in rows[1]
        and rows[1].rstrip(" │").endswith("84")
    )
    assert "Total params: 304 (1.19 KB)" in text
    assert "Trainable params: 304 (1.19 KB)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    assert model.count_params() == 304


def test_summary_counts_batchnorm_statistics_as_non_trainable_and_falls_back_to_ascii(
    monkeypatch,
):
    model = Sequential([Dense(8, input_dim=3, name="d"), BatchNormalization(name="bn")])
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr("sys.stdout", stream)
    model.summary()
    stream.flush()
    text = stream.buffer.getvalue().decode("ascii")
    # BN on 8 features: gamma, beta trainable (16), moving mean/variance not (16)
    assert "Total params: 64 " in text
    assert "Trainable params: 48 " in text
    assert "Non-trainable params: 16 " in text
    assert "bn (BatchNormalization)" in text


def test_unbuilt_model_summary_then_predict_builds_it():
    model = Sequential([Dense(3), Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)  # as Keras 3: '?' shapes and '0 (unbuilt)'
    assert sum("0 (unbuilt)" in line for line in lines) == 2
    assert any(" ? " in line for line in lines)
    with pytest.raises(ValueError, match="not been built"):
        model.count_params()
    assert model.predict(np.ones((2, 4)), verbose=0).shape == (2, 1)  # Keras builds from data
    assert model.layers[0].kernel.shape == (4, 3)


def test_input_layer_weights_config_round_trip():
    model = Sequential([Input(shape=(5,)), Dense(3, activation="relu"), Dropout(0.2), Dense(2)])
    assert len(model.layers) == 3
    assert [w.label.split("/")[1] for w in model.weights] == ["kernel", "bias"] * 2
    config = json.loads(json.dumps(model.get_config()))
    clone = Sequential.from_config(config)
    assert [type(layer).__name__ for layer in clone.layers] == ["Dense", "Dropout", "Dense"]
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 5))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="expects 4 weight arrays"):
        model.set_weights(model.get_weights()[:2])
    model.pop()
    assert model.output_shape == (None, 3)


def test_duplicate_layer_names_are_rejected():
    model = Sequential([Dense(2, input_dim=2, name="a")])
    with pytest.raises(ValueError, match="unique names"):
        model.add(Dense(2, name="a"))
    with pytest.raises(TypeError, match="instance of class Layer"):
        model.add("dense")


# -- training ----------------------------------------------------------------------


def test_history_keys_and_learning():
    x, y = _blobs()
    model = _small_model(lr=0.5)
    history = model.fit(x, y, epochs=30, batch_size=16, validation_split=0.25, verbose=0, seed=0)
    # Keras 3 keeps logs sorted by name
    assert list(history.history) == ["binary_accuracy", "loss", "val_binary_accuracy", "val_loss"]
    assert len(history.history["loss"]) == 30
    assert history is model.history
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_binary_accuracy"][-1] > 0.9


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = _blobs(100)
    model = _small_model()
    before = model.get_weights()
    history = model.fit(x, y, epochs=1, batch_size=100, validation_split=0.2, verbose=0)
    # the validation loss is computed after the epoch, on the last 20 rows
    after = model.get_weights()
    model.set_weights(after)
    expected = model.evaluate(x[80:], y[80:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(expected[0], rel=1e-5)
    assert not all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_batch_gradient_descent_step_matches_the_gradient_formula():
    # one Dense sigmoid unit + BCE: dL/dW = X^T (p - y) / n, so one SGD step is known exactly
    x, y = _blobs(40)
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(optimizer=SGD(0.5), loss="binary_crossentropy")
    w0, b0 = (a.astype(np.float64) for a in model.get_weights())
    p = 1 / (1 + np.exp(-(x @ w0 + b0)))
    gw = x.T @ (p - y[:, None]) / len(x)
    gb = (p - y[:, None]).mean(axis=0)
    model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    w1, b1 = model.get_weights()
    np.testing.assert_allclose(w1, w0 - 0.5 * gw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - 0.5 * gb, rtol=1e-4, atol=1e-6)


def test_batch_size_one_is_stochastic_and_len_x_is_one_step():
    x, y = _blobs(10)
    steps = []

    class CountSteps(Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    for batch_size, expected in ((1, 10), (10, 1), (4, 3)):
        steps.clear()
        model = _small_model()
        model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, callbacks=[CountSteps()])
        assert len(steps) == expected


def test_class_weight_and_sample_weight_scale_the_gradient():
    # the loss is sum_i w_i l_i / n, so doubling every weight doubles the SGD step
    x, y = _blobs(32)

    def step(**kwargs):
        model = _small_model(seed=3)
        w0 = model.get_weights()
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0, **kwargs)
        return [a - b for a, b in zip(model.get_weights(), w0, strict=True)]

    plain = step()
    doubled = step(sample_weight=np.full(32, 2.0))
    by_class = step(class_weight={0: 2.0, 1: 2.0})
    for a, b, c in zip(plain, doubled, by_class, strict=True):
        np.testing.assert_allclose(b, 2 * a, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(c, 2 * a, rtol=1e-4, atol=1e-7)
    # weight only class 1: the step equals the step on the class-1 rows alone, scaled by their share
    only_one = step(class_weight={0: 0.0, 1: 1.0})
    ones = y == 1
    model = _small_model(seed=3)
    w0 = model.get_weights()
    model.fit(x[ones], y[ones], epochs=1, batch_size=32, shuffle=False, verbose=0)
    alone = [a - b for a, b in zip(model.get_weights(), w0, strict=True)]
    for a, b in zip(only_one, alone, strict=True):
        np.testing.assert_allclose(a, b * ones.mean(), rtol=1e-4, atol=1e-7)


def test_callbacks_are_invoked_and_can_stop_training():
    x, y = _blobs(40)
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))
            if epoch == 2:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            events.append("train_end")

    model = _small_model()
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0, callbacks=[Recorder()])
    assert events[0] == "train_begin" and events[-1] == "train_end"
    assert [e[1] for e in events if isinstance(e, tuple)] == [0, 1, 2]
    assert events[1][2] == ["binary_accuracy", "loss"]
    assert len(history.history["loss"]) == 3


def test_verbose_one_prints_keras_progress():
    x, y = _blobs(40)
    model = _small_model()
    out = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        model.fit(x, y, epochs=2, batch_size=10, verbose=1)
    text = out.getvalue()
    assert "Epoch 2/2" in text and "4/4" in text and "loss:" in text


def test_evaluate_predict_and_predict_classes():
    x, y = _blobs(60)
    model = _small_model(lr=0.5)
    model.fit(x, y, epochs=20, batch_size=10, verbose=0, seed=1)
    loss, acc = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs == {"loss": pytest.approx(loss), "binary_accuracy": pytest.approx(acc)}
    p = model.predict(x, verbose=0)
    assert p.shape == (60, 1) and p.dtype == np.float32
    classes = model.predict_classes(x)
    np.testing.assert_array_equal(classes, (p > 0.5).astype("int32"))
    assert acc == pytest.approx(float((classes[:, 0] == y).mean()))
    # the reported loss is the mean binary cross-entropy of the predictions
    bce = -np.mean(y[:, None] * np.log(p) + (1 - y[:, None]) * np.log(1 - p))
    assert loss == pytest.approx(bce, rel=1e-3)


def test_train_test_predict_on_batch():
    x, y = _blobs(16)
    model = _small_model()
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert model.test_on_batch(x, y, return_dict=True).keys() == {"loss", "binary_accuracy"}
    assert model.predict_on_batch(x).shape == (16, 1)


def test_inputs_may_be_lists_and_integer_arrays():
    model = _small_model()
    x = [[0, 1], [1, 0], [2, 2], [-1, -2]]
    y = [1, 0, 1, 0]
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    assert model.predict(np.array(x, dtype=np.int64)).shape == (4, 1)


def test_softmax_fused_loss_is_stable_for_huge_logits():
    model = Sequential([Dense(3, input_dim=2, activation="softmax")])
    model.compile(optimizer=SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.set_weights([np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]]), np.zeros(3)])
    x = np.array([[1.0, 0.0], [1.0, 0.0]])
    history = model.fit(x, np.array([1, 0]), epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert history.history["loss"][0] == pytest.approx(1000.0, rel=1e-3)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_frozen_layer_is_not_updated():
    x, y = _blobs(30)
    model = _small_model()
    model.layers[0].trainable = False
    frozen = model.layers[0].get_weights()
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_dropout_and_batchnorm_train_inside_a_model():
    x, y = _blobs(64)
    model = Sequential(
        [
            Dense(16, input_dim=2, activation="relu"),
            BatchNormalization(),
            Dropout(0.3, seed=0),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    # inference is deterministic: dropout off, moving statistics used
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    assert not np.allclose(model.layers[1].moving_mean.data, 0.0)


# -- bad input: clear errors and no weight changes -----------------------------------


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "error", "match"),
    [
        (np.ones((10, 3)), np.ones(10), {}, ValueError, r"\(10, 3\)"),
        (np.ones((10, 2)), np.ones(9), {}, ValueError, "10 samples.*9"),
        (np.full((10, 2), np.nan), np.ones(10), {}, ValueError, "NaN"),
        (np.ones((10, 2)), np.full(10, np.inf), {}, ValueError, "NaN or infinite"),
        (np.array([[1.0, -np.inf]] * 10), np.ones(10), {}, ValueError, r"index \(0, 1\)"),
        (np.ones((10, 2)), np.ones(10), {"batch_size": 0}, ValueError, "batch_size"),
        (np.ones((10, 2)), np.ones(10), {"validation_split": 1.5}, ValueError, "validation_split"),
        (np.ones((10, 2)), np.ones(10), {"sample_weight": np.ones(3)}, ValueError, "sample_weight"),
        (np.array([["a", "b"]] * 10), np.ones(10), {}, TypeError, "numbers"),
    ],
)
def test_bad_fit_input_raises_before_any_weight_change(x, y, kwargs, error, match):
    model = _small_model()
    before = model.get_weights()
    with pytest.raises(error, match=match):
        model.fit(x, y, epochs=1, verbose=0, **kwargs)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=300, deadline=None)
@given(
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    transposed=st.booleans(),
    data=st.data(),
)
def test_the_data_check_finds_every_nan_and_inf_and_passes_huge_finite_values(
    dtype, shape, transposed, data
):
    # one BLAS pass (the sum of squares) clears finite data; its overflow on huge finite
    # entries must fall back to min and max, never refuse them; any NaN/inf is found
    from hypothesis.extra.numpy import arrays

    from tinygrad_mlp.trainer import _all_finite

    specials = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0])
    huge = st.sampled_from([1e300, -1e300, 3e38, -3e38, 6e4, -6e4])
    elements = st.one_of(st.floats(-10, 10), specials, huge).map(lambda v: np.dtype(dtype).type(v))
    with np.errstate(over="ignore"):
        a = data.draw(arrays(dtype, shape, elements=elements))
    if transposed:
        a = a.T
    assert _all_finite(a) == bool(np.isfinite(a).all())


def test_sparse_labels_out_of_range_raise_before_training():
    model = Sequential([Dense(3, input_dim=2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    y = np.array([0, 1, 2] * 10 + [3])
    with pytest.raises(ValueError, match=r"\[3\].*\[0, 3\)"):
        model.fit(np.ones((31, 2)), y, batch_size=2, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_before_compile_and_unknown_names():
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.ones((2, 2)), np.ones(2))
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="(?i)unknown.*mean_squared_error"):
        model.compile(optimizer="sgd", loss="mean_squeared_error")
    with pytest.raises(ValueError, match="(?i)unknown.*adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="(?i)unknown.*accuracy"):
        model.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])


def test_categorical_targets_of_the_wrong_shape_get_a_hint():
    model = Sequential([Dense(3, input_dim=2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(np.ones((4, 2)), np.array([0, 1, 2, 1]), verbose=0)


# -- the perceptron --------------------------------------------------------------------


def test_perceptron_separates_a_line_and_fails_on_xor():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, size=(250, 2))
    y = (x.sum(axis=1) >= 100).astype(int)
    xn = (x - x.mean(axis=0)) / x.std(axis=0)
    p = Perceptron(learning_rate=0.1, max_iter=500, seed=0).fit(xn, y)
    assert p.errors_[-1] == 0 and p.score(xn, y) == 1.0
    xor = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    q = Perceptron(max_iter=50, seed=0).fit(xor, [0, 1, 1, 0])
    assert len(q.errors_) == 50 and min(q.errors_) > 0 and q.score(xor, [0, 1, 1, 0]) < 1.0


def test_adding_a_layer_that_does_not_fit_leaves_the_model_unchanged():
    model = Sequential([Dense(3, input_dim=2)])
    with pytest.raises(ValueError, match=r"last dimension 5.*\(None, 3\)"):
        model.add(Dense(1, input_dim=5))
    assert len(model.layers) == 1 and model.output_shape == (None, 3)


_NUMPY_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    acts=st.lists(st.sampled_from(sorted(_NUMPY_ACTIVATIONS)), min_size=3, max_size=3),
    n=st.integers(1, 40),
    batch_size=st.integers(1, 16),
    seed=st.integers(0, 1000),
)
def test_predict_and_evaluate_agree_with_numpy_for_any_batch_size(sizes, acts, n, batch_size, seed):
    rng = np.random.default_rng(seed)
    model = Sequential()
    nin = 3
    for i, units in enumerate(sizes):
        kwargs = {"input_dim": nin} if i == 0 else {}
        model.add(Dense(units, activation=acts[i], bias_initializer="random_normal", **kwargs))
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = rng.normal(size=(n, nin)).astype(np.float32)
    y = rng.normal(size=(n, sizes[-1])).astype(np.float32)
    h = x.astype(np.float64)
    weights = model.get_weights()
    for i in range(len(sizes)):
        h = _NUMPY_ACTIVATIONS[acts[i]](h @ weights[2 * i] + weights[2 * i + 1])
    np.testing.assert_allclose(
        model.predict(x, batch_size=batch_size, verbose=0), h, rtol=1e-4, atol=1e-5
    )
    loss, mae = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    assert loss == pytest.approx(np.mean((h - y) ** 2), rel=1e-4, abs=1e-6)
    assert mae == pytest.approx(np.mean(np.abs(h - y)), rel=1e-4, abs=1e-6)


def test_custom_metric_callables_per_sample_or_averaged():
    x, y = _blobs(20)
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])

    def mean_prediction(y_true, y_pred):  # already averaged over the batch
        return float(np.mean(y_pred))

    def per_sample_prediction(y_true, y_pred):
        return y_pred[:, 0]

    model.compile(optimizer="sgd", loss="mse", metrics=[mean_prediction, per_sample_prediction])
    logs = model.evaluate(x, y, batch_size=7, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    assert logs["mean_prediction"] == pytest.approx(p.mean(), rel=1e-5)
    assert logs["per_sample_prediction"] == pytest.approx(p.mean(), rel=1e-5)


def test_freezing_a_layer_between_fits_is_seen_by_the_next_fit():
    model = Sequential([Dense(4, input_dim=3, activation="tanh"), Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.random.default_rng(0).standard_normal((16, 3)), np.zeros((16, 1))
    model.fit(x, y, epochs=1, verbose=0)
    model.layers[0].trainable = False
    before = model.layers[0].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for old, new in zip(before, model.layers[0].get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before[0], model.layers[0].get_weights()[0])


def test_predict_in_chunks_equals_batch_by_batch_and_counts_batches(capsys):
    from tinygrad_mlp.callbacks import Callback
    from tinygrad_mlp.layers import BatchNormalization, Dropout

    model = Sequential([Dense(32, input_dim=8, activation="relu"), BatchNormalization(),
                        Dropout(0.5), Dense(3, activation="softmax")])  # fmt: skip
    x = np.random.default_rng(0).standard_normal((20_000, 8)).astype("float32")

    class Seen(Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_predict_batch_end(self, batch, logs=None):
            self.batches += 1

    seen = Seen()
    one_by_one = model.predict(x, verbose=0, callbacks=[seen])  # a callback sees every batch
    assert seen.batches == 625
    chunked = model.predict(x, verbose=1)
    np.testing.assert_allclose(chunked, one_by_one, rtol=1e-6, atol=1e-7)
    assert "625/625" in capsys.readouterr().out  # the bar counts batches of 32, as Keras
    assert model.predict(x, steps=3, verbose=0).shape == (96, 3)


def test_evaluate_runs_arrays_in_chunks_with_the_batchwise_result_and_keras_counts(capsys):
    from tinygrad_mlp.callbacks import Callback

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    w = rng.random(5000).astype(np.float32)
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy", "auc"])
    seen = []

    class Batches(Callback):  # a callback that sees each batch keeps evaluate batchwise
        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    chunked = model.evaluate(x, y, sample_weight=w, verbose=1)
    out = capsys.readouterr().out
    batchwise = model.evaluate(x, y, sample_weight=w, verbose=0, callbacks=[Batches()])
    assert seen == list(range(157))
    assert "157/157" in out and "2/157" not in out.split("157/157")[-1]
    np.testing.assert_allclose(chunked, batchwise, rtol=1e-6)


def test_large_data_is_gathered_batch_by_batch_with_the_same_shuffles(monkeypatch):
    from tinygrad_mlp import data_adapters

    x, y = _blobs(200)
    runs = []
    for threshold in (1 << 40, 0):  # a shuffled copy of the epoch, then one batch at a time
        monkeypatch.setattr(data_adapters, "GATHER_PER_BATCH_BYTES", threshold)
        model = _small_model(momentum=0.9)
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, seed=4)
        runs.append((history.history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_what_a_subclass_must_define_is_said_when_it_is_missing():
    import tinygrad_mlp as tm

    class NoCall(tm.Model):  # as in Keras: a subclass of Model defines call
        pass

    with pytest.raises(NotImplementedError, match="has no call"):
        NoCall()(np.zeros((2, 3), np.float32))

    class Plain(tm.Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)

        def call(self, x, training=None):
            return self.dense(x)

    with pytest.raises(NotImplementedError, match="has no get_config"):
        Plain().get_config()

    class Empty(tm.utils.PyDataset):  # Keras' PyDataset contract: __len__ and __getitem__
        pass

    with pytest.raises(NotImplementedError, match="must define __len__"):
        len(Empty())
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        Empty()[0]
