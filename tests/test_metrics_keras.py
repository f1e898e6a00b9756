"""Stateful metrics side by side with real Keras 3 (torch backend): standalone and in fit."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras", reason="keras is not installed (it is in the 'test' extra)")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras' own, on NumPy 2

from tinygrad_mlp import metrics as M  # noqa: E402
from tinygrad_mlp.layers import Dense  # noqa: E402
from tinygrad_mlp.models import Sequential  # noqa: E402
from tinygrad_mlp.optimizers import SGD  # noqa: E402


def batches(kind: str, seed: int):
    rng = np.random.default_rng(seed)
    for n in (20, 7, 33):
        if kind == "binary":
            yt, yp = (rng.random((n, 1)) > 0.5).astype(float), rng.random((n, 1))
        elif kind == "categorical":
            yt, yp = np.eye(4)[rng.integers(0, 4, n)], rng.dirichlet(np.ones(4), n)
        elif kind == "sparse":
            yt, yp = rng.integers(0, 4, (n, 1)).astype(float), rng.dirichlet(np.ones(4), n)
        else:
            yt = rng.standard_normal((n, 2))
            yp = yt + 0.5 * rng.standard_normal((n, 2))
        yield yt, yp, rng.random(n)


CASES = {
    "BinaryAccuracy": ("binary", lambda m: m.BinaryAccuracy()),
    "BinaryAccuracy(0.7)": ("binary", lambda m: m.BinaryAccuracy(threshold=0.7)),
    "Accuracy": ("sparse", None),
    "Precision": ("binary", lambda m: m.Precision()),
    "Recall": ("binary", lambda m: m.Recall()),
    "Precision([0.3, 0.7])": ("binary", lambda m: m.Precision(thresholds=[0.3, 0.7])),
    "Recall(0.2)": ("binary", lambda m: m.Recall(thresholds=0.2)),
    "AUC": ("binary", lambda m: m.AUC()),
    "AUC(PR)": ("binary", lambda m: m.AUC(curve="PR")),
    "AUC(13, minoring)": (
        "binary",
        lambda m: m.AUC(num_thresholds=13, summation_method="minoring"),
    ),
    "AUC(13, majoring)": (
        "binary",
        lambda m: m.AUC(num_thresholds=13, summation_method="majoring"),
    ),
    "CategoricalAccuracy": ("categorical", lambda m: m.CategoricalAccuracy()),
    "TopKCategoricalAccuracy(2)": ("categorical", lambda m: m.TopKCategoricalAccuracy(k=2)),
    "F1Score": ("categorical", lambda m: m.F1Score()),
    "F1Score(macro)": ("categorical", lambda m: m.F1Score(average="macro")),
    "F1Score(micro)": ("categorical", lambda m: m.F1Score(average="micro")),
    "F1Score(weighted, 0.3)": (
        "categorical",
        lambda m: m.F1Score(average="weighted", threshold=0.3),
    ),
    "FBetaScore(beta 2)": ("categorical", lambda m: m.FBetaScore(beta=2.0)),
    "SparseCategoricalAccuracy": ("sparse", lambda m: m.SparseCategoricalAccuracy()),
    "MeanSquaredError": ("regression", lambda m: m.MeanSquaredError()),
    "MeanAbsoluteError": ("regression", lambda m: m.MeanAbsoluteError()),
    "RootMeanSquaredError": ("regression", lambda m: m.RootMeanSquaredError()),
    "R2Score": ("regression", lambda m: m.R2Score()),
    "R2Score(variance weighted)": (
        "regression",
        lambda m: m.R2Score(class_aggregation="variance_weighted_average"),
    ),
    "R2Score(per output)": ("regression", lambda m: m.R2Score(class_aggregation=None)),
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c[1] is not None))
def test_each_metric_accumulates_as_keras_does(name, weighted):
    kind, make = CASES[name]
    ours, theirs = make(M), make(keras.metrics)
    for seed in (0, 1):  # reset_state between two runs
        ours.reset_state()
        theirs.reset_state()
        for yt, yp, w in batches(kind, seed):
            sw = w if weighted else None
            ours.update_state(yt, yp, sample_weight=sw)
            theirs.update_state(
                yt.astype("float32"), yp.astype("float32"),
                sample_weight=None if sw is None else sw.astype("float32"),
            )  # fmt: skip
        expected = keras.ops.convert_to_numpy(theirs.result())
        np.testing.assert_allclose(np.asarray(ours.result()), expected, rtol=1e-4, atol=1e-5)
    assert ours.name == re.sub(r"_\d+$", "", theirs.name)  # Keras numbers repeated names


def test_accuracy_and_mean_as_keras():
    ours, theirs = M.Accuracy(), keras.metrics.Accuracy()
    for yt, yp in (([1, 2, 3], [1, 2, 4]), ([0, 0], [0, 1])):
        ours.update_state(np.array(yt)[:, None], np.array(yp)[:, None])
        theirs.update_state(np.array(yt)[:, None], np.array(yp)[:, None])
    assert ours.result() == pytest.approx(float(theirs.result()))
    mean, kmean = M.Mean(), keras.metrics.Mean()
    for values, w in (
        (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 2.0])),
        (np.array([4.0]), None),
    ):
        mean.update_state(values, sample_weight=w)
        kmean.update_state(values, sample_weight=w)
    assert mean.result() == pytest.approx(float(kmean.result()))


def test_calling_a_metric_updates_and_returns_the_result():
    precision = M.Precision()
    assert precision(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.2])) == pytest.approx(0.5)
    assert precision(np.array([1]), np.array([0.9])) == pytest.approx(2 / 3)  # accumulated
    precision.reset_state()
    assert precision.result() == 0.0
    assert isinstance(M.get("precision"), M.Precision) and M.get("auc").name == "auc"
    f1 = M.F1Score(average="macro")
    assert M.get(f1) is f1 and f1.get_config()["average"] == "macro"


def keras_twin(ours: Sequential):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(1, activation="sigmoid")])  # fmt: skip
    model.set_weights(ours.get_weights())
    return model


def test_compile_and_fit_give_keras_history_for_stateful_metrics():
    from tinygrad_mlp.datasets import circle

    x, y = circle(n=320, seed=3)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    y = y.astype("float32").reshape(-1, 1)
    ours = Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    theirs = keras_twin(ours)
    names = ["precision", "recall", "auc"]
    ours.compile(loss="binary_crossentropy", optimizer=SGD(0.2), metrics=names)
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.2), metrics=names)
    kwargs = dict(epochs=4, batch_size=32, shuffle=False, validation_split=0.25, verbose=0)
    h_ours = ours.fit(x, y, **kwargs).history
    h_theirs = theirs.fit(x, y, **kwargs).history
    for key in ("loss", *names, "val_loss", *(f"val_{n}" for n in names)):
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-4, atol=1e-5, err_msg=key)
    ev_ours = ours.evaluate(x, y, verbose=0)
    ev_theirs = theirs.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(ev_ours, ev_theirs, rtol=1e-4, atol=1e-5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XYZ")
    with pytest.raises(ValueError, match="thresholds"):
        M.Precision(thresholds=1.5)
    with pytest.raises(ValueError, match="average"):
        M.F1Score(average="mean")
    with pytest.raises(ValueError, match="sample_weight"):
        M.Recall().update_state(np.ones(3), np.ones(3), sample_weight=np.ones(2))


def _normalised(text: str) -> list[str]:
    """Printed lines with times replaced and Keras' terminal redraws reduced to the last one."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\b", "")
    lines = [segment.split("\r")[-1].rstrip() for segment in text.split("\n")]
    lines = [re.sub(r"\d+(s|ms|us)/step", "T/step", line) for line in lines if line]
    return [re.sub(r"(^| )\d+s( |$)", r"\1Ts\2", line) for line in lines]


@pytest.mark.parametrize("verbose", [1, 2])
def test_the_console_reads_as_keras_3s(verbose, capsys):
    """Epoch headers, the bar, per-step time, and the logs in Keras 3's (sorted) order."""
    from tinygrad_mlp.datasets import circle

    x, y = circle(n=96, seed=5)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    y = y.astype("float32").reshape(-1, 1)
    ours = Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    theirs = keras_twin(ours)
    for model, opt in ((ours, SGD(0.1)), (theirs, keras.optimizers.SGD(0.1))):
        model.compile(loss="binary_crossentropy", optimizer=opt, metrics=["mae", "accuracy"])
    kwargs = dict(epochs=2, batch_size=32, shuffle=False, validation_split=0.25, verbose=verbose)
    capsys.readouterr()
    h_ours = ours.fit(x, y, **kwargs)
    printed_ours = _normalised(capsys.readouterr().out)
    h_theirs = theirs.fit(x, y, **kwargs)
    printed_theirs = _normalised(capsys.readouterr().out)
    assert list(h_ours.history) == list(h_theirs.history)
    assert printed_ours == printed_theirs
    assert printed_ours[0] == "Epoch 1/2" and "━" * 20 in "".join(printed_ours) or verbose == 2
