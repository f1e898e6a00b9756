"""The course's programs, run through the public API as a learner writes them."""

import numpy as np
import pytest

from tinygrad_mlp.datasets import multi_label
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.optimizers import SGD, Adam


def test_the_course_program_runs_unchanged():
    Inputs, Outputs = multi_label(seed=0)  # noqa: N806 - the course's names
    np.random.seed(0)  # the unseeded initializers follow NumPy's global state
    # --- the course's program, with fewer epochs ---
    my_network = Sequential()
    my_network.add(Dense(20, input_dim=10, activation="relu"))
    my_network.add(Dense(4, activation="sigmoid"))
    my_network.compile(
        loss="binary_crossentropy", optimizer=SGD(0.1, 0.9), metrics=["binary_accuracy"]
    )
    my_history = my_network.fit(Inputs, Outputs, epochs=60, batch_size=250, verbose=0)
    # ---
    assert list(my_history.history.keys()) == ["binary_accuracy", "loss"]  # Keras 3: sorted
    losses = my_history.history["loss"]
    assert len(losses) == 60 and losses[-1] < 0.6 * losses[0]
    assert my_history.history["binary_accuracy"][-1] > 0.85
    assert my_network.count_params() == 304


def _circle(n, seed):
    """Points in [-1, 1]^2, class 1 inside the circle of radius sqrt(2/pi) (half the square)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = ((x**2).sum(axis=1) < 2 / np.pi).astype(int)
    return x, y


def test_circle_needs_hidden_layers():
    x, y = _circle(1000, seed=1)
    np.random.seed(1)
    neuron = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    neuron.compile(optimizer=Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    single = neuron.fit(x, y, epochs=40, batch_size=32, validation_split=0.2, verbose=0, seed=0)
    # a single line cannot separate the inside of a circle from the outside
    assert max(single.history["val_accuracy"]) < 0.8

    mlp = Sequential(
        [
            Dense(16, input_dim=2, activation="tanh"),
            Dense(16, activation="tanh"),
            Dense(1, activation="sigmoid"),
        ]
    )
    mlp.compile(optimizer=Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    deep = mlp.fit(x, y, epochs=60, batch_size=32, validation_split=0.2, verbose=0, seed=0)
    assert deep.history["val_accuracy"][-1] > 0.95


def test_xor_is_learnt_with_one_hidden_layer():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    y = np.array([0, 1, 1, 0])
    np.random.seed(2)
    model = Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(optimizer=SGD(0.5, 0.9), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=300, batch_size=4, verbose=0)
    np.testing.assert_array_equal(model.predict_classes(x)[:, 0], y)


def _split(x, y, test_fraction, seed):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    cut = int(len(x) * (1 - test_fraction))
    train, test = order[:cut], order[cut:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-8
    return (x[train] - mean) / std, y[train], (x[test] - mean) / std, y[test]


def test_softmax_classifier_on_iris():
    datasets = pytest.importorskip("sklearn.datasets")
    iris = datasets.load_iris()
    x_train, y_train, x_test, y_test = _split(iris.data, iris.target, 0.3, seed=0)
    np.random.seed(3)
    model = Sequential([Dense(16, input_dim=4, activation="relu"), Dense(3, activation="softmax")])
    model.compile(
        optimizer=Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, epochs=60, batch_size=16, verbose=0, seed=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.95
    assert (model.predict_classes(x_test) == y_test).mean() == pytest.approx(accuracy)


def test_softmax_classifier_on_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x_train, y_train, x_test, y_test = _split(digits.data, digits.target, 0.25, seed=0)
    one_hot = np.eye(10)[y_train]
    np.random.seed(4)
    model = Sequential(
        [
            Dense(64, input_dim=64, activation="relu"),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=Adam(0.002), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, one_hot, epochs=15, batch_size=32, verbose=0, seed=0)
    accuracy = (model.predict_classes(x_test) == y_test).mean()
    assert accuracy > 0.96
