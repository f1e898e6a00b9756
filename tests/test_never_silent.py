"""Never silent, never half-done: bad settings are errors before anything changes; NaN shows."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from tinygrad_mlp import optimizers
from tinygrad_mlp.callbacks import TerminateOnNaN
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential

X = np.random.default_rng(0).standard_normal((16, 2)).astype("float32")
Y = np.random.default_rng(1).standard_normal((16, 1)).astype("float32")


def model(optimizer="sgd"):
    m = Sequential([Dense(3, input_dim=2, activation="tanh"), Dense(1)])
    m.compile(loss="mse", optimizer=optimizer)
    return m


def unchanged(m, before):
    return all(np.array_equal(a, b) for a, b in zip(before, m.get_weights(), strict=True))


FIT_ERRORS = {
    "empty data": (dict(x=X[:0], y=Y[:0]), "no training samples"),
    "steps_per_epoch=0": (dict(steps_per_epoch=0), "steps_per_epoch must be an integer >= 1"),
    "negative initial_epoch": (dict(epochs=3, initial_epoch=-1), "initial_epoch must be"),
    "negative epochs": (dict(epochs=-2), "epochs must be a non-negative int"),
    "validation_batch_size=0": (
        dict(validation_split=0.25, validation_batch_size=0),
        "batch_size must be a positive int",
    ),
}


@pytest.mark.parametrize("case", sorted(FIT_ERRORS))
def test_fit_refuses_before_training(case):
    kwargs, message = FIT_ERRORS[case]
    m = model()
    before = m.get_weights()
    call = {"x": X, "y": Y, "epochs": 1, "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        m.fit(**call)
    assert unchanged(m, before) and m.optimizer.iterations == 0


@pytest.mark.parametrize("weights", [float("nan"), -1.0, [float("inf")], True])
def test_compile_refuses_bad_loss_weights(weights):
    m = model()
    with pytest.raises(ValueError, match="loss_weights"):
        m.compile(loss="mse", optimizer="sgd", loss_weights=weights)


OPTIMIZER_ERRORS = {
    "Adam(epsilon=-1)": (lambda: optimizers.Adam(epsilon=-1), ValueError, "epsilon"),
    "Adam(epsilon=nan)": (lambda: optimizers.Adam(epsilon=math.nan), ValueError, "epsilon"),
    "RMSprop(rho=2)": (lambda: optimizers.RMSprop(rho=2), ValueError, "rho"),
    "RMSprop(momentum=-0.1)": (lambda: optimizers.RMSprop(momentum=-0.1), ValueError, "momentum"),
    "Adagrad(epsilon=-1)": (lambda: optimizers.Adagrad(epsilon=-1e-3), ValueError, "epsilon"),
    "SGD('0.1')": (lambda: optimizers.SGD("0.1"), TypeError, "learning_rate"),
    "SGD(-0.1)": (lambda: optimizers.SGD(-0.1), ValueError, "learning_rate"),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_ERRORS))
def test_out_of_range_optimizer_settings_are_errors(case):
    make, error, message = OPTIMIZER_ERRORS[case]
    with pytest.raises(error, match=message):
        make()


def test_a_schedule_returning_nan_is_an_error_before_any_weight_changes():
    m = model(optimizers.SGD(lambda step: float("nan")))
    before = m.get_weights()
    with pytest.raises(ValueError, match="returned nan at step 0"):
        m.fit(X, Y, epochs=1, verbose=0)
    assert unchanged(m, before)


def test_set_weights_checks_every_array_before_changing_any():
    m = model()
    before = m.get_weights()
    bad = [w.copy() + 1 for w in before[:-1]] + [np.ones((5, 5))]
    with pytest.raises(ValueError, match=r"shape .* received an array of shape \(5, 5\)"):
        m.set_weights(bad)
    assert unchanged(m, before)
    with pytest.raises(ValueError, match="4 weight"):
        m.set_weights(before[:3])
    assert unchanged(m, before)


def test_a_loss_that_turns_nan_takes_the_step_shows_and_warns_once():
    """As Keras: the step is taken and the NaN shows in the History; fit warns once."""
    m = model(optimizers.SGD(1e6))
    big_x, big_y = X * 100, Y * 1e4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = m.fit(big_x, big_y, epochs=4, batch_size=4, verbose=0).history
    ours = [w for w in caught if "the loss became" in str(w.message)]
    assert len(ours) == 1
    text = str(ours[0].message)
    assert "epoch" in text and "batch" in text and "TerminateOnNaN" in text
    assert not all(math.isfinite(v) for v in history["loss"])
    assert not all(np.isfinite(w).all() for w in m.get_weights())  # the step was taken
    m2 = model(optimizers.SGD(1e6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h2 = m2.fit(big_x, big_y, epochs=4, batch_size=4, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(h2.history["loss"]) < 4  # stopped when it happened
