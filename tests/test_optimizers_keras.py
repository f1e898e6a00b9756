"""Keras 3's optimizers, step by step, against real Keras (torch backend)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (it is in the 'test' extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from tinygrad_mlp import optimizers  # noqa: E402
from tinygrad_mlp.engine import Value  # noqa: E402

CASES = {
    "Adamax": lambda m: m.Adamax(0.01),
    "Adamax(betas)": lambda m: m.Adamax(0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-5),
    "Adadelta": lambda m: m.Adadelta(1.0),
    "Adadelta(rho)": lambda m: m.Adadelta(0.5, rho=0.9, epsilon=1e-6),
    "Ftrl": lambda m: m.Ftrl(0.1),
    "Ftrl(regularised)": lambda m: m.Ftrl(
        0.05,
        learning_rate_power=-0.7,
        initial_accumulator_value=0.2,
        l1_regularization_strength=0.01,
        l2_regularization_strength=0.02,
        l2_shrinkage_regularization_strength=0.01,
        beta=0.1,
    ),
    "Lion": lambda m: m.Lion(0.01),
    "Lion(betas)": lambda m: m.Lion(0.003, beta_1=0.95, beta_2=0.98),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_five_steps_equal_keras(name):
    rng = np.random.default_rng(0)
    start = [
        rng.standard_normal((3, 4)).astype("float32"),
        rng.standard_normal(4).astype("float32"),
    ]
    grads = [[rng.standard_normal(w.shape).astype("float32") for w in start] for _ in range(5)]
    ours = [Value(w.copy()) for w in start]
    theirs = [keras.Variable(w.copy()) for w in start]
    ours_opt, theirs_opt = CASES[name](optimizers), CASES[name](keras.optimizers)
    for step in grads:
        ours_opt.apply_gradients(list(zip(step, ours, strict=True)))
        theirs_opt.apply_gradients(
            list(zip([keras.ops.convert_to_tensor(g) for g in step], theirs, strict=True))
        )
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.data, keras.ops.convert_to_numpy(b), rtol=2e-5, atol=1e-6)
    assert ours_opt.iterations == 5


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_and_state_round_trip(name):
    opt = CASES[name](optimizers)
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    var = Value(np.ones(3, dtype="float32"))
    opt.apply_gradients([(np.full(3, 0.5, dtype="float32"), var)])
    copy = optimizers.deserialize(optimizers.serialize(opt))
    copy.build([Value(np.ones(3, dtype="float32"))])
    copy.set_state(opt.get_state())
    assert copy.iterations == opt.iterations


def test_schedules_live_where_keras_has_them():
    from tinygrad_mlp.optimizers.schedules import CosineDecay, ExponentialDecay

    schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    theirs = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    for step in (0, 5, 10, 25):
        assert schedule(step) == pytest.approx(float(theirs(step)), rel=1e-6)
    assert optimizers.schedules.CosineDecay is CosineDecay
    assert isinstance(optimizers.get("lion"), optimizers.Lion)
    assert isinstance(optimizers.get("Adamax"), optimizers.Adamax)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adamax(beta_1=1.5)
    with pytest.raises(ValueError, match="rho"):
        optimizers.Adadelta(rho=2.0)
    with pytest.raises(ValueError, match="l1_regularization_strength"):
        optimizers.Ftrl(l1_regularization_strength=-1)
    with pytest.raises(ValueError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match="beta_2"):
        optimizers.Lion(beta_2=1.0)


def test_set_random_seed_repeats_a_whole_training_run():
    from tinygrad_mlp import backend, utils
    from tinygrad_mlp.layers import Dense, Dropout, GaussianNoise
    from tinygrad_mlp.models import Sequential

    x = np.random.default_rng(1).standard_normal((64, 3)).astype("float32")
    y = (x.sum(1, keepdims=True) > 0).astype("float32")

    def run():
        utils.set_random_seed(7)
        backend.clear_session()
        model = Sequential([Dense(8, input_dim=3, activation="relu"), Dropout(0.3),
                            GaussianNoise(0.1), Dense(1, activation="sigmoid")])  # fmt: skip
        model.compile(loss="binary_crossentropy", optimizer="adam")
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history
        return history["loss"], model.get_weights(), [layer.name for layer in model.layers]

    (l1, w1, n1), (l2, w2, n2) = run(), run()
    assert l1 == l2 and n1 == n2 == ["dense", "dropout", "gaussian_noise", "dense_1"]
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert backend.epsilon() == keras.config.epsilon() and backend.floatx() == keras.config.floatx()
    with pytest.raises(ValueError, match="non-negative integer"):
        utils.set_random_seed(-1)


def test_keras_module_names_are_attributes_loaded_on_first_use():
    import subprocess
    import sys

    code = (
        "import sys, tinygrad_mlp as tm\n"
        "light = 'tinygrad_mlp.models' not in sys.modules and 'graphviz' not in sys.modules\n"
        "p = tm.metrics.Precision(); d = tm.layers.Dense(2); s = tm.Sequential\n"
        "print(light, type(p).__name__, type(d).__name__, s.__name__, tm.Input.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "Precision", "Dense", "Sequential", "Input"]
