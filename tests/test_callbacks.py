"""Callbacks, driven by a tiny fake model (and once by a real ``Sequential.fit``)."""

from __future__ import annotations

import io
import math
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    Progbar,
    ProgbarLogger,
    ReduceLROnPlateau,
    TerminateOnNaN,
    _format_time_per_unit,
)

# ----------------------------------------------------------------------------
# a fake model: a "weight" we can recognise by epoch, an optimizer, save methods


class FakeOptimizer:
    def __init__(self, learning_rate=1.0):
        self.learning_rate = learning_rate
        self.iterations = 0


class FakeModel:
    def __init__(self, learning_rate=1.0):
        self.stop_training = False
        self.history = None
        self.w = np.array([-1.0])
        self.optimizer = FakeOptimizer(learning_rate)
        self.saved: list[tuple[str, str]] = []

    def get_weights(self):
        return [self.w.copy()]

    def set_weights(self, weights):
        self.w = np.array(weights[0], copy=True)

    def save(self, path):
        with open(path, "w") as f:
            f.write("model")
        self.saved.append(("save", path))

    def save_weights(self, path):
        with open(path, "w") as f:
            f.write("weights")
        self.saved.append(("save_weights", path))


def run(callbacks, epoch_logs, model=None, steps=2, verbose=0, batch_logs=None):
    """Drive callbacks the way fit does; epoch e sets the model's weight to e."""
    model = model or FakeModel()
    cbs = CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        epochs=len(epoch_logs),
        steps=steps,
        verbose=verbose,
    )
    model.stop_training = False
    cbs.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps):
            cbs.on_train_batch_begin(batch)
            model.w = np.array([float(epoch)])  # the "training step"
            cbs.on_train_batch_end(batch, dict(batch_logs or {"loss": logs.get("loss", 0.0)}))
        logs = dict(logs)
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end()
    return model, cbs


# ----------------------------------------------------------------------------
# Callback, CallbackList, History


def test_history_records_every_key_per_epoch_and_is_set_on_the_model():
    logs = [{"loss": np.float32(0.5), "val_loss": 0.6}, {"loss": 0.25, "val_loss": 0.4}]
    model, _ = run([], logs)
    assert isinstance(model.history, History)
    assert model.history.epoch == [0, 1]
    assert model.history.history == {"loss": [0.5, 0.25], "val_loss": [0.6, 0.4]}
    assert all(type(v) is float for v in model.history.history["loss"])


def test_callback_list_order_and_no_duplicates():
    mine = History()
    bar = ProgbarLogger()
    user = Callback()
    cbs = CallbackList([user, mine, bar], add_history=True, add_progbar=True)
    assert cbs.callbacks == [user, mine, bar]  # nothing added twice
    cbs = CallbackList([user], add_history=True, add_progbar=True)
    assert isinstance(cbs.callbacks[0], ProgbarLogger)
    assert cbs.callbacks[1] is user
    assert isinstance(cbs.callbacks[-1], History)


def test_callback_list_sets_model_params_and_history_up_front():
    seen = {}

    class Spy(Callback):
        def on_train_begin(self, logs=None):
            seen["history"] = self.model.history
            seen["params"] = dict(self.params)

    model = FakeModel()
    cbs = CallbackList([Spy()], add_history=True, model=model, epochs=3, steps=7, verbose=0)
    cbs.on_train_begin()
    assert isinstance(seen["history"], History)
    assert seen["params"] == {"epochs": 3, "steps": 7, "verbose": 0}


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(TypeError, match="Callback instances, received function"):
        CallbackList([lambda: None])


def test_hooks_are_dispatched_in_order_with_legacy_batch_names():
    calls = []

    class Legacy(Callback):
        def on_batch_end(self, batch, logs=None):
            calls.append(("legacy", batch))

    spy = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_test_end=lambda logs: calls.append("test_end"),
    )
    cbs = CallbackList([Legacy(), spy], model=FakeModel())
    cbs.on_train_begin()
    cbs.on_train_batch_end(0, {})
    cbs.on_epoch_end(0, {})
    cbs.on_test_end({})
    assert calls == [
        "train_begin",
        ("legacy", 0),
        ("batch_end", 0),
        ("epoch_end", 0),
        "test_end",
    ]


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(TypeError, match="unknown hook 'on_epoch_ends'.*on_epoch_end"):
        LambdaCallback(on_epoch_ends=print)


# ----------------------------------------------------------------------------
# the progress bar

FINAL_LINE = re.compile(
    r"^5/5 ━{20} \d+s \d+(s|ms|us)/step - loss: 0\.4123 - binary_accuracy: 0\.8300"
    r" - val_loss: 0\.3900 - val_binary_accuracy: 0\.8500$"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
EPOCH_LOGS = {
    "loss": 0.41234,
    "binary_accuracy": 0.83,
    "val_loss": 0.39,
    "val_binary_accuracy": 0.85,
}


def test_progbar_not_a_terminal_prints_only_final_lines(capsys):
    run([], [EPOCH_LOGS] * 3, steps=5, verbose=1, batch_logs={"loss": 1.0})
    out = capsys.readouterr().out
    assert "\r" not in out
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(lines) == 6
    for line in lines[1::2]:
        assert FINAL_LINE.match(line), line


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progbar_on_a_terminal_redraws_with_carriage_returns(monkeypatch):
    term = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", term)
    run([], [EPOCH_LOGS], steps=5, verbose=1, batch_logs={"loss": 1.0})
    out = term.getvalue()
    # the first batch is always drawn: 1 of 5 steps fills 4 of the 20 columns, in green
    assert "\r\x1b[1m1/5\x1b[0m \x1b[32m" + "━" * 4 + "\x1b[0m\x1b[37m" + "━" * 16 in out
    assert "loss: 1.0000" in out
    final = out.split("\r")[-1]
    assert final.endswith("\n")
    plain = ANSI.sub("", final.rstrip("\n").rstrip())
    assert FINAL_LINE.match(plain), final
    assert "Epoch 1/1" not in out  # a single epoch prints no epoch header, as Keras


def test_progbar_verbose_2_prints_one_line_per_epoch(capsys):
    run([], [EPOCH_LOGS] * 2, steps=5, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    pattern = re.compile(
        r"^5/5 - \d+s - \d+(s|ms|us)/step - loss: 0\.4123 - binary_accuracy: 0\.8300"
        r" - val_loss: 0\.3900"
        r" - val_binary_accuracy: 0\.8500$"
    )
    assert pattern.match(lines[1]) and pattern.match(lines[3])


def test_progbar_verbose_0_prints_nothing(capsys):
    run([], [EPOCH_LOGS] * 2, steps=5, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_unknown_number_of_steps(capsys):
    run([], [{"loss": 0.5}], steps=0, verbose=1)  # an empty epoch does not crash
    bar = Progbar(target=None)
    bar.update(3, [("loss", 0.5)])
    bar.update(4, [("loss", 0.5)], finalize=True)
    assert re.match(r"^4/Unknown \d+s \d+(s|ms|us)/step - loss: 0\.5000$", bar.line(4, True))


def test_progbar_for_evaluate_and_predict_but_not_for_fits_validation(capsys):
    bar = ProgbarLogger()
    cbs = CallbackList([bar], model=FakeModel(), steps=4, verbose=1)
    for hooks in ("test", "predict"):
        getattr(cbs, f"on_{hooks}_begin")()
        for batch in range(4):
            getattr(cbs, f"on_{hooks}_batch_begin")(batch)
            getattr(cbs, f"on_{hooks}_batch_end")(batch, {"loss": 0.25})
        getattr(cbs, f"on_{hooks}_end")({"loss": 0.25} if hooks == "test" else None)
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"^4/4 ━{20} \d+s \d+(s|ms|us)/step - loss: 0\.2500$", lines[0])
    assert re.match(r"^4/4 ━{20} \d+s \d+(s|ms|us)/step$", lines[1])
    assert len(lines) == 2
    # inside fit, the validation pass prints nothing of its own
    cbs.on_train_begin()
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 1.0})
    cbs.on_test_end({"loss": 1.0})
    assert capsys.readouterr().out == ""


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 5), st.floats(-100, 100, allow_nan=False)),
        min_size=1,
        max_size=8,
    )
)
def test_progbar_averages_non_stateful_values_weighted_by_steps(updates):
    bar = Progbar(target=None, verbose=0)
    current, weighted = 0, 0.0
    for steps, value in updates:
        current += steps
        weighted += steps * value
        bar.update(current, [("loss", value)])
    assert math.isclose(bar._value_of("loss"), weighted / current, rel_tol=1e-9, abs_tol=1e-9)


def test_time_per_step_units():
    assert _format_time_per_unit(3.0, "step") == "3s/step"
    assert _format_time_per_unit(0.002, "step") == "2ms/step"
    assert _format_time_per_unit(8e-5, "step") == "80us/step"


def test_small_values_use_scientific_notation(capsys):
    run([], [{"loss": 2.5e-5}], steps=1, verbose=2)
    assert "loss: 2.5000e-05" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# EarlyStopping


def losses(*values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


def test_early_stopping_patience_and_restore_best_weights(capsys):
    stop = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    model, _ = run([stop], losses(1.0, 0.5, 0.6, 0.7, 0.4))
    # epochs 2 and 3 fail to beat 0.5: the second failure (patience 2) stops at epoch 3
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1 and stop.best == 0.5
    assert model.history.epoch == [0, 1, 2, 3]
    assert model.w[0] == 1.0  # the weights as they were after epoch 1
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "best epoch: 2" in out


def test_early_stopping_restores_best_weights_even_without_stopping():
    stop = EarlyStopping(patience=10, restore_best_weights=True)
    model, _ = run([stop], losses(1.0, 0.2, 0.5))
    assert stop.stopped_epoch == 0 and model.w[0] == 1.0


def test_early_stopping_without_restore_keeps_last_weights():
    model, _ = run([EarlyStopping(patience=1)], losses(1.0, 0.5, 0.6, 0.7))
    assert model.w[0] == 2.0


def test_early_stopping_min_delta():
    stop = EarlyStopping(patience=1, min_delta=0.1)
    run([stop], losses(1.0, 0.95, 0.9, 0.85))  # 0.95 is not 0.1 better than 1.0
    assert stop.stopped_epoch == 1


def test_early_stopping_auto_mode_maximises_accuracy():
    stop = EarlyStopping(monitor="val_accuracy", patience=2)
    assert stop.mode == "max"
    run([stop], losses(0.5, 0.6, 0.55, 0.5, 0.9, key="val_accuracy"))
    assert stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert EarlyStopping(monitor="loss").mode == "min"
    assert EarlyStopping(monitor="val_loss", mode="max").mode == "max"


def test_early_stopping_baseline():
    # improvements that never beat the baseline do not reset the wait
    with_baseline = EarlyStopping(patience=2, baseline=0.5)
    run([with_baseline], losses(0.9, 0.95, 0.96, 0.97))
    without = EarlyStopping(patience=2)
    run([without], losses(0.9, 0.95, 0.96, 0.97))
    assert with_baseline.stopped_epoch == 1
    assert without.stopped_epoch == 2


def test_early_stopping_start_from_epoch():
    warm = EarlyStopping(monitor="loss", patience=1, start_from_epoch=2)
    run([warm], losses(1, 2, 3, 4, 5, key="loss"))
    cold = EarlyStopping(monitor="loss", patience=1)
    run([cold], losses(1, 2, 3, 4, 5, key="loss"))
    assert (warm.stopped_epoch, cold.stopped_epoch) == (3, 1)


def test_early_stopping_warns_with_available_keys_when_monitor_is_missing():
    stop = EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(
        RuntimeWarning, match=r"'val_loss'.*validation.*Available keys: accuracy, loss"
    ):
        model, _ = run([stop], [{"loss": 1.0, "accuracy": 0.5}] * 3)
    assert not model.stop_training and len(model.history.epoch) == 3


def test_bad_mode_is_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="'auto', 'min', 'max', received 'minimum'"):
        EarlyStopping(mode="minimum")


# ----------------------------------------------------------------------------
# TerminateOnNaN


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    cb = TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 0.3})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": np.float32(bad)})
    assert model.stop_training
    assert "Batch 1: Invalid loss" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# ModelCheckpoint


def test_model_checkpoint_formats_the_path_and_saves_only_improvements(tmp_path):
    pattern = str(tmp_path / "ckpt" / "m-{epoch:02d}-{val_loss:.2f}.tgm")
    model, _ = run([ModelCheckpoint(pattern, save_best_only=True)], losses(0.5, 0.6, 0.4))
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == ["m-01-0.50.tgm", "m-03-0.40.tgm"]
    assert [kind for kind, _ in model.saved] == ["save", "save"]


def test_model_checkpoint_every_epoch_weights_only(tmp_path):
    pattern = str(tmp_path / "w-{epoch}.npz")
    model, _ = run([ModelCheckpoint(pattern, save_weights_only=True)], losses(0.5, 0.6))
    assert model.saved == [
        ("save_weights", str(tmp_path / "w-1.npz")),
        ("save_weights", str(tmp_path / "w-2.npz")),
    ]


def test_model_checkpoint_max_mode_and_threshold(tmp_path):
    cb = ModelCheckpoint(
        str(tmp_path / "b.tgm"), monitor="val_accuracy", save_best_only=True,
        initial_value_threshold=0.7,
    )  # fmt: skip
    model, _ = run([cb], losses(0.6, 0.8, 0.75, key="val_accuracy"))
    assert len(model.saved) == 1 and cb.best == 0.8


def test_model_checkpoint_unknown_field_lists_available_ones(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / "m-{val_acc:.2f}.tgm"))
    with pytest.raises(KeyError, match="val_acc.*epoch, loss, val_loss"):
        run([cb], losses(0.5))


# ----------------------------------------------------------------------------
# learning-rate callbacks


def test_learning_rate_scheduler_sets_rate_and_logs_it(capsys):
    sched = LearningRateScheduler(lambda epoch, lr: lr * 0.5, verbose=1)
    model, _ = run([sched], losses(1, 1, 1), model=FakeModel(learning_rate=0.1))
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5**3)
    assert model.history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.05" in capsys.readouterr().out


def test_learning_rate_scheduler_one_argument_schedule():
    model, _ = run([LearningRateScheduler(lambda epoch: 1.0 / (epoch + 1))], losses(1, 1, 1))
    assert model.optimizer.learning_rate == pytest.approx(1 / 3)


def test_learning_rate_scheduler_errors_inside_schedule_are_not_hidden():
    def schedule(epoch, lr):
        raise TypeError("boom")

    with pytest.raises(TypeError, match="boom"):
        run([LearningRateScheduler(schedule)], losses(1))
    with pytest.raises(ValueError, match="must return a number, received 'fast'"):
        run([LearningRateScheduler(lambda e, lr: "fast")], losses(1))


def test_learning_rate_callbacks_refuse_to_replace_a_schedule():
    model = FakeModel()
    model.optimizer.learning_rate = lambda step: 0.1
    with pytest.raises(TypeError, match="uses a schedule"):
        run([LearningRateScheduler(lambda e, lr: lr)], losses(1), model=model)


def test_reduce_lr_on_plateau_schedule_by_hand():
    # a flat val_loss: with patience 2 the rate halves every second epoch after the first
    model, _ = run([ReduceLROnPlateau(factor=0.5, patience=2)], losses(*[1.0] * 8))
    assert model.history.history["learning_rate"] == [1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert model.optimizer.learning_rate == 0.125  # cuts at epochs 2, 4, 6


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    # cooldown 2: after a cut, two epochs pass before waiting starts again
    model, _ = run([ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2)], losses(*[1.0] * 8))
    assert model.history.history["learning_rate"] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    model, _ = run([ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05)], losses(*[1.0] * 5))
    # logs hold the rate used during the epoch; the cut happens at its end
    assert model.history.history["learning_rate"] == pytest.approx([1, 1, 0.1, 0.05, 0.05])
    assert model.optimizer.learning_rate == 0.05


def test_reduce_lr_on_plateau_improvement_resets_the_wait():
    cb = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.01)
    model, _ = run([cb], losses(1.0, 0.995, 0.9, 0.895, 0.892))
    # 0.995, 0.895 and 0.892 are within min_delta of the best: not improvements;
    # 0.9 is, so the wait restarts and the cut comes at the end of epoch 4, not 2
    assert model.history.history["learning_rate"] == [1, 1, 1, 1, 1]
    assert model.optimizer.learning_rate == 0.5


def test_reduce_lr_on_plateau_rejects_a_factor_that_does_not_reduce():
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\).*received 1.5"):
        ReduceLROnPlateau(factor=1.5)


# ----------------------------------------------------------------------------
# CSVLogger


def test_csv_logger_writes_header_rows_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    run([CSVLogger(path)], [{"val_loss": 0.5, "loss": 0.25}, {"val_loss": 0.125, "loss": 1}])
    assert path.read_text().splitlines() == [
        "epoch,loss,val_loss",
        "0,0.25,0.5",
        "1,1.0,0.125",
    ]
    run([CSVLogger(path, append=True)], [{"val_loss": 2.0, "loss": 3.0}])
    assert path.read_text().splitlines()[1:] == ["0,0.25,0.5", "1,1.0,0.125", "0,3.0,2.0"]
    run([CSVLogger(path)], [{"val_loss": 2.0, "loss": 3.0}])  # no append: a new file
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,3.0,2.0"]


def test_csv_logger_separator_and_missing_values(tmp_path):
    path = tmp_path / "log.tsv"
    run([CSVLogger(path, separator="\t")], [{"loss": 0.5, "acc": 1}, {"loss": 0.25}])
    assert path.read_text().splitlines() == ["epoch\tacc\tloss", "0\t1.0\t0.5", "1\tNA\t0.25"]


# ----------------------------------------------------------------------------
# with the real model


def test_real_fit_early_stopping_restores_the_best_validation_weights(capsys):
    models = pytest.importorskip("tinygrad_mlp.models")
    pytest.importorskip("tinygrad_mlp.optimizers")
    pytest.importorskip("tinygrad_mlp.metrics")
    from tinygrad_mlp.layers import Dense

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.float32)
    x_val = rng.normal(size=(20, 3)).astype(np.float32)
    y_val = (x_val @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.float32)
    from tinygrad_mlp.initializers import GlorotUniform

    model = models.Sequential(
        [
            Dense(8, input_dim=3, activation="tanh", kernel_initializer=GlorotUniform(seed=1)),
            Dense(1, "sigmoid", kernel_initializer=GlorotUniform(seed=2)),
        ]
    )
    # a learning rate far too high makes the validation loss bounce, so stopping happens
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["binary_accuracy"])
    model.optimizer.learning_rate = 3.0
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(
        x,
        y,
        epochs=40,
        batch_size=10,
        validation_data=(x_val, y_val),
        callbacks=[stop],
        verbose=1,
        seed=0,
    )
    assert history is model.history
    assert set(history.history) >= {"loss", "binary_accuracy", "val_loss", "val_binary_accuracy"}
    n_epochs = len(history.epoch)
    best = int(np.argmin(history.history["val_loss"]))
    assert stop.best_epoch == best
    # it stopped early, and the last epoch was worse than the best one
    assert 0 < stop.stopped_epoch == n_epochs - 1 < 39
    assert history.history["val_loss"][-1] > min(history.history["val_loss"])
    val_loss = model.evaluate(x_val, y_val, verbose=0)[0]
    assert val_loss == pytest.approx(min(history.history["val_loss"]), rel=1e-4, abs=1e-5)
    out = capsys.readouterr().out
    assert "\r" not in out and "Epoch 1/40" in out
    bar_lines = [line for line in out.splitlines() if line.startswith("6/6 ━")]
    assert len(bar_lines) == n_epochs
    assert all(" - val_loss: " in line for line in bar_lines)


def test_real_fit_with_schedule_csv_log_checkpoint_and_terminate_on_nan(tmp_path):
    models = pytest.importorskip("tinygrad_mlp.models")
    pytest.importorskip("tinygrad_mlp.optimizers")
    pytest.importorskip("tinygrad_mlp.saving")
    from tinygrad_mlp.layers import Dense

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.float32)
    model = models.Sequential([Dense(4, input_dim=2, activation="relu"), Dense(1, "sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    model.optimizer.learning_rate = 0.1
    csv_path = tmp_path / "log.csv"
    ckpt = ModelCheckpoint(str(tmp_path / "best.tgm"), monitor="val_loss", save_best_only=True)
    history = model.fit(
        x,
        y,
        epochs=4,
        batch_size=8,
        validation_split=0.25,
        verbose=0,
        callbacks=[
            LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1)),
            CSVLogger(csv_path),
            ckpt,
            TerminateOnNaN(),
        ],
    )
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss"
    assert [row.split(",")[0] for row in rows[1:]] == ["0", "1", "2", "3"]
    assert (tmp_path / "best.tgm").exists()
    assert ckpt.best == pytest.approx(min(history.history["val_loss"]))
    restored = models.load_model(str(tmp_path / "best.tgm"))
    assert restored.evaluate(x[30:], y[30:], verbose=0)[0] == pytest.approx(ckpt.best, rel=1e-5)


def test_real_optimizer_with_a_schedule_is_not_silently_overwritten():
    optimizers = pytest.importorskip("tinygrad_mlp.optimizers")
    model = FakeModel()
    model.optimizer = optimizers.SGD(optimizers.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="uses a schedule"):
        run([LearningRateScheduler(lambda e, lr: lr)], losses(1), model=model)
    model.optimizer = optimizers.SGD(0.1)
    model, _ = run([ReduceLROnPlateau(patience=1, factor=0.5)], losses(1, 1, 1), model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.025)
