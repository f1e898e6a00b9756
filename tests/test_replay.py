"""The replayed training step (replay.py): bit for bit the eager step, and eager when it must be.

Each test trains the same model twice from the same weights and data, once with
``compile(jit_compile=False)`` (every step eager: the Value graph, engine.grad, the
optimizer per weight) and once as compiled by default (the replayed step), and asks
for identical bits: History, every weight, every optimizer slot.
"""

import copy
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mlp as tm
from tinygrad_mlp import optimizers
from tinygrad_mlp.callbacks import Callback
from tinygrad_mlp.layers import Dense, Dropout, Input
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.trainer import Trainer

OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(0.01),
    "amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "rmsprop_centered": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.05),
    "schedule": lambda: optimizers.SGD(optimizers.ExponentialDecay(0.1, 3, 0.5)),
}
# (output activation, loss, target kind)
HEADS = [
    ("sigmoid", "binary_crossentropy", "binary"),
    ("softmax", "sparse_categorical_crossentropy", "labels"),
    ("softmax", "categorical_crossentropy", "onehot"),
    ("linear", "mse", "real"),
    ("tanh", "mse", "real"),
    ("sigmoid", "mse", "real"),
    ("relu", "mse", "real"),
]


def _data(n, features, outputs, kind, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(dtype)
    if kind == "binary":
        y = (rng.random((n, outputs)) > 0.5).astype(dtype)
    elif kind == "labels":
        y = rng.integers(0, outputs, size=n)
    elif kind == "onehot":
        y = np.eye(outputs, dtype=dtype)[rng.integers(0, outputs, size=n)]
    else:
        y = rng.normal(size=(n, outputs)).astype(dtype)
    return x, y


def _model(widths, hidden, head, dtype, use_bias, seed, functional=False):
    rng = np.random.default_rng(seed)
    layers = [Input((widths[0],), dtype=dtype)]
    for i, units in enumerate(widths[1:]):
        last = i == len(widths) - 2
        layers.append(Dense(units, activation=head if last else hidden, use_bias=use_bias[i],
                            dtype=dtype))  # fmt: skip
    if functional:  # the same chain through the functional API
        inputs = out = layers[0]
        for layer in layers[1:]:
            out = layer(out)
        model = tm.Model(inputs, out)
    else:
        model = Sequential(layers)
    model.set_weights([rng.normal(scale=0.7, size=w.shape).astype(dtype)
                       for w in model.get_weights()])  # fmt: skip
    return model


class _CountEager:
    """How many steps took the eager path (Trainer._train_step) while it is installed."""

    def __enter__(self):
        self.count = 0
        self.original = Trainer._train_step

        def counting(model, *args, **kwargs):
            self.count += 1
            return self.original(model, *args, **kwargs)

        Trainer._train_step = counting
        return self

    def __exit__(self, *exc):
        Trainer._train_step = self.original


def _train(build, jit, fit_kwargs, compile_kwargs):
    model = build()
    model.compile(jit_compile=jit, **copy.deepcopy(compile_kwargs))  # a fresh optimizer each
    with _CountEager() as eager:
        history = model.fit(verbose=0, **{"seed": 7, **fit_kwargs})  # the same shuffles
    return model, history.history, eager.count


def _assert_same_bits(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        assert wa.dtype == wb.dtype
        np.testing.assert_array_equal(wa, wb, strict=True)
    sa, sb = a.optimizer.get_state(), b.optimizer.get_state()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], strict=True)


def _both(build, fit_kwargs, compile_kwargs):
    eager, h_eager, n_eager = _train(build, False, fit_kwargs, compile_kwargs)
    replayed, h_replayed, n_replayed = _train(build, "auto", fit_kwargs, compile_kwargs)
    return eager, h_eager, n_eager, replayed, h_replayed, n_replayed


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # some draws diverge: both paths alike
@settings(max_examples=150, deadline=None)
@given(
    widths=st.lists(st.integers(1, 9), min_size=2, max_size=4),
    hidden=st.sampled_from(["linear", "relu", "tanh", "sigmoid"]),
    head=st.sampled_from(HEADS),
    optimizer=st.sampled_from(sorted(OPTIMIZERS)),
    batch_size=st.integers(1, 40),
    n=st.integers(1, 70),
    dtype=st.sampled_from([np.float32, np.float64]),
    bias=st.lists(st.booleans(), min_size=4, max_size=4),
    accuracy=st.booleans(),
    functional=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_replayed_fit_is_the_eager_fit_bit_for_bit(
    widths, hidden, head, optimizer, batch_size, n, dtype, bias, accuracy, functional, seed
):
    activation, loss, kind = head
    outputs = widths[-1] if kind == "real" or kind == "binary" else max(widths[-1], 2)
    widths = [*widths[:-1], outputs]
    x, y = _data(n, widths[0], outputs, kind, dtype, seed)
    metrics = ["accuracy"] if accuracy and kind != "real" else ["mae"] if accuracy else None

    def build():
        return _model(widths, hidden, activation, dtype, bias, seed, functional)

    eager, h_eager, n_eager, replayed, h_replayed, n_replayed = _both(
        build,
        dict(x=x, y=y, batch_size=batch_size, epochs=3, seed=seed),
        dict(optimizer=OPTIMIZERS[optimizer](), loss=loss, metrics=metrics),
    )
    steps = 3 * -(-n // batch_size)
    assert n_eager == steps and n_replayed == 0  # every step replayed, none fell back
    np.testing.assert_equal(h_eager, h_replayed)  # NaN where both diverged
    _assert_same_bits(eager, replayed)
    np.testing.assert_array_equal(eager.predict(x, verbose=0), replayed.predict(x, verbose=0))


def _circle(n=96):
    return _data(n, 2, 1, "binary", np.float32, 3)


def _circle_model():
    return _model([2, 8, 8, 1], "tanh", "sigmoid", np.float32, [True] * 3, 1)


CIRCLE_COMPILE = dict(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])


def test_a_frozen_layer_is_left_alone_and_the_rest_replayed():
    x, y = _circle()

    def build():
        model = _circle_model()
        model.layers[0].trainable = False
        return model

    eager, h1, _, replayed, h2, n_replayed = _both(
        build, dict(x=x, y=y, batch_size=16, epochs=2), CIRCLE_COMPILE
    )
    assert n_replayed == 0 and h1 == h2
    _assert_same_bits(eager, replayed)
    np.testing.assert_array_equal(replayed.layers[0].get_weights()[0], build().get_weights()[0])


class _Nudge(Callback):
    """Writes the weights between batches, both ways a user does: set_weights copies into
    the arrays, ``.data =`` re-binds a new one."""

    def on_train_batch_end(self, batch, logs=None):
        layer = self.model.layers[1]
        if batch % 2 == 0:
            layer.set_weights([w * 0.5 for w in layer.get_weights()])
        else:
            layer.kernel.data = layer.kernel.data + 0.25
        self.model.optimizer.learning_rate = self.model.optimizer.learning_rate * 0.9


def test_callbacks_that_write_weights_between_batches_see_the_same_training():
    x, y = _circle()
    fit = dict(x=x, y=y, batch_size=16, epochs=2, callbacks=[_Nudge()])
    compile_ = dict(optimizer=optimizers.SGD(0.1, momentum=0.9), loss="binary_crossentropy")
    eager, h1, _, replayed, h2, n_replayed = _both(_circle_model, fit, compile_)
    assert n_replayed == 0 and h1 == h2
    _assert_same_bits(eager, replayed)


def test_an_optimizer_swapped_mid_fit_sends_the_rest_of_the_fit_to_the_eager_step():
    x, y = _circle()

    class Swap(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.optimizer = optimizers.SGD(0.01)

    fit = dict(x=x, y=y, batch_size=16, epochs=1, callbacks=[Swap()])
    eager, h1, _, replayed, h2, n_replayed = _both(_circle_model, fit, CIRCLE_COMPILE)
    assert n_replayed == 4  # 6 batches: 2 replayed, the 4 after the swap eager
    assert h1 == h2
    for a, b in zip(eager.get_weights(), replayed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_weight_that_needs_no_gradient_takes_the_eager_step():
    x, y = _circle()

    def build():
        model = _circle_model()
        model.layers[1].kernel.requires_grad = False  # eager: a zero gradient, Adam still steps
        return model

    eager, h1, n_eager, replayed, h2, n_replayed = _both(
        build, dict(x=x, y=y, batch_size=16, epochs=1), CIRCLE_COMPILE
    )
    assert n_replayed == n_eager == 6 and h1 == h2
    _assert_same_bits(eager, replayed)


def test_sample_weights_take_the_eager_step_with_the_same_result():
    x, y = _circle()
    w = np.linspace(0.5, 2.0, len(x)).astype(np.float32)
    fit = dict(x=x, y=y, batch_size=16, epochs=2, sample_weight=w)
    eager, h1, n_eager, replayed, h2, n_replayed = _both(_circle_model, fit, CIRCLE_COMPILE)
    assert n_replayed == n_eager == 12 and h1 == h2
    _assert_same_bits(eager, replayed)


def _two_branches():
    inputs = Input((2,))
    return tm.Model(inputs, tm.layers.Add()([Dense(1)(inputs), Dense(1)(inputs)]))


@pytest.mark.parametrize(
    "build, compile_, reason",
    [
        (lambda: Sequential([Input((2,)), Dense(8, activation="relu"), Dropout(0.5), Dense(1)]),
         dict(optimizer="sgd", loss="mse"), "only a stack of Dense layers"),
        (lambda: Sequential([Input((2,)), Dense(8, activation="elu"), Dense(1)]),
         dict(optimizer="sgd", loss="mse"), "hidden activation"),
        (lambda: Sequential([Input((2,)), Dense(8, kernel_regularizer="l2"), Dense(1)]),
         dict(optimizer="sgd", loss="mse"), "regularizers"),
        (lambda: Sequential([Input((2,)), Dense(1, activation="sigmoid")]),
         dict(optimizer="sgd", loss=tm.losses.BinaryCrossentropy(label_smoothing=0.1)),
         "is not replayed"),
        (lambda: Sequential([Input((2,)), Dense(1)]),
         dict(optimizer=optimizers.SGD(0.1, clipnorm=1.0), loss="mse"), "clipping"),
        (lambda: Sequential([Input((2,)), Dense(1)]),
         dict(optimizer="nadam", loss="mse"), "Nadam"),
        (lambda: Sequential([Input((2,)), Dense(1)]),
         dict(optimizer="sgd", loss="mse", run_eagerly=True), "eager steps"),
        (_two_branches, dict(optimizer="sgd", loss="mse"), "not a chain"),
    ],
)  # fmt: skip
def test_what_the_replay_does_not_cover_trains_eagerly_and_says_why(build, compile_, reason):
    x, y = _circle(32)
    model = build()
    model.compile(**compile_)
    with _CountEager() as eager:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert eager.count == 4
    step, why = model.__dict__["_replay"][1:]
    assert step is None and reason in why


def test_weights_stay_views_the_user_can_read_and_the_model_saves_and_loads(tmp_path):
    x, y = _circle()
    model = _circle_model()
    model.compile(**CIRCLE_COMPILE)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    kernel = model.layers[0].kernel.data
    before = kernel.copy()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # the same plan, kept and reused
    assert not np.array_equal(kernel, before)  # the array a user held is the one trained
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = tm.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # and the loaded model trains on exactly as the original does (optimizer state included)
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0, seed=5)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, seed=5)
    _assert_same_bits(loaded, model)


def test_a_diverging_replayed_fit_warns_as_the_eager_one_does():
    x, y = _data(64, 2, 1, "real", np.float32, 0)
    x = x * 1e3

    def run(jit):
        model = _model([2, 8, 1], "relu", "linear", np.float32, [True, True], 0)
        model.compile(optimizer=optimizers.SGD(10.0), loss="mse", jit_compile=jit)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, seed=7)
        # fit's own warning; NumPy's overflow warnings come from whichever op overflows first
        return model, history.history, [str(w.message) for w in caught
                                        if "loss became" in str(w.message)]  # fmt: skip

    eager, h1, w1 = run(False)
    replayed, h2, w2 = run("auto")
    assert len(w1) == 1 and w1 == w2
    np.testing.assert_equal(h1, h2)  # NaN where the eager loss is NaN
    for a, b in zip(eager.get_weights(), replayed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_batches_of_many_sizes_keep_only_a_few_sets_of_buffers():
    x, y = _circle(200)

    def batches():
        start = 0
        for size in range(1, 20):  # 19 different batch sizes in one epoch
            yield x[start : start + size], y[start : start + size]
            start += size

    model = _circle_model()
    model.compile(**CIRCLE_COMPILE)
    with _CountEager() as eager:
        model.fit(batches(), epochs=1, verbose=0)
    step = model.__dict__["_replay"][1]
    assert eager.count == 0 and len(step.buffers) <= 4


def test_a_label_out_of_range_leaves_the_replayed_step_to_the_eager_one_untouched():
    """fit checks labels before a step; a step handed one anyway returns None (the eager
    step then raises the loss's ValueError) and has changed no weight or slot."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    model = Sequential([Input((5,)), Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    step = model.__dict__["_replay"][1]
    before = [w.copy() for w in model.get_weights()]
    iterations = model.optimizer.iterations
    for bad in (3, -1):
        labels = y[:16].copy()
        labels[5] = bad
        assert step.step([x[:16]], [labels], None, model.optimizer) is None
    assert model.optimizer.iterations == iterations
    for w, w0 in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert step.step([x[:16]], [y[:16]], None, model.optimizer) is not None  # and it goes on


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_a_model_large_enough_for_the_compiled_updates_replays_bit_for_bit(dtype, optimizer):
    """5,443 parameters: the optimizers' compiled loops run (from 4,096 elements) in both
    the eager and the replayed fit; float16, which numba has no type for, takes the NumPy
    passes everywhere (it used to reach a loop and raise)."""
    x, y = _data(96, 64, 3, "labels", dtype, seed=3)

    def build():
        return _model([64, 80, 3], "relu", "softmax", dtype, [True, True], seed=4)

    fit_kwargs = {"x": x, "y": y, "batch_size": 32, "epochs": 2}
    compile_kwargs = {"optimizer": OPTIMIZERS[optimizer](),
                      "loss": "sparse_categorical_crossentropy"}  # fmt: skip
    eager, h_eager, _, replayed, h_replayed, n_replayed = _both(build, fit_kwargs, compile_kwargs)
    assert n_replayed == 0
    assert h_eager == h_replayed
    _assert_same_bits(eager, replayed)


class _RebindFrozen(Callback):
    """Re-binds a frozen layer's bias: to a new float32 array, then to float64 values."""

    def on_train_batch_end(self, batch, logs=None):
        bias = self.model.layers[0].bias
        if batch == 1:
            bias.data = bias.data + np.float32(0.125)
        elif batch == 3:
            bias.data = bias.data.astype(np.float64) - 0.25


def test_a_frozen_weight_rebound_is_read_anew_and_another_dtype_takes_the_eager_step():
    x, y = _circle()

    def build():
        model = _circle_model()
        model.layers[0].trainable = False
        return model

    fit = dict(x=x, y=y, batch_size=16, epochs=1, callbacks=[_RebindFrozen()])
    eager, h1, _, replayed, h2, n_replayed = _both(build, fit, CIRCLE_COMPILE)
    assert 0 < n_replayed < len(x) // 16  # the float64 bias's steps were eager, not the rest
    assert h1 == h2
    _assert_same_bits(eager, replayed)
