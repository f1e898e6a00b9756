"""Metrics: hand-made examples, per-sample shapes, 'accuracy' resolution, confusion matrix."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_mlp import losses, metrics
from tinygrad_mlp.engine import Value


def test_binary_accuracy_by_hand():
    y = np.array([1, 0, 1, 0])
    p = np.array([[0.9], [0.7], [0.4], [0.1]])
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p), [1, 0, 0, 1])
    # threshold moves the decision; y as a column works too
    got = metrics.binary_accuracy(y.reshape(-1, 1), p, threshold=0.8)
    np.testing.assert_array_equal(got, [1, 1, 0, 1])
    # several outputs per sample: the fraction right
    got = metrics.binary_accuracy(np.array([[1, 0], [1, 1]]), np.array([[0.8, 0.9], [0.6, 0.7]]))
    np.testing.assert_array_equal(got, [0.5, 1.0])


def test_categorical_and_sparse_accuracy_by_hand():
    p = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    onehot = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(metrics.categorical_accuracy(onehot, p), [1, 0, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([1, 1, 2], p), [1, 0, 1])
    got = metrics.sparse_categorical_accuracy(np.array([[1.0], [0.0], [0.0]]), p)
    np.testing.assert_array_equal(got, [1, 1, 0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        metrics.sparse_categorical_accuracy([1, 1], p)


def test_regression_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0])
    p = np.array([[1.5], [2.0], [1.0]])
    np.testing.assert_allclose(metrics.mse(y, p), [0.25, 0.0, 4.0])
    np.testing.assert_allclose(metrics.mean_absolute_error(y, p), [0.5, 0.0, 2.0])
    with pytest.raises(ValueError, match=r"\(2,\).*\(3, 1\)"):
        metrics.mse(np.zeros(2), p)


@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 4)), elements=st.floats(0, 1))
)
def test_accuracies_agree_on_one_hot_and_labels(p):
    labels = (np.arange(len(p)) * 7) % p.shape[1]
    onehot = np.eye(p.shape[1])[labels]
    cat = metrics.categorical_accuracy(onehot, p)
    assert cat.shape == (len(p),)
    np.testing.assert_array_equal(cat, metrics.sparse_categorical_accuracy(labels, p))
    np.testing.assert_array_equal(cat, metrics.get("accuracy")(labels, p))
    np.testing.assert_array_equal(cat, metrics.get("accuracy")(onehot, p))
    np.testing.assert_array_equal(cat, p.argmax(axis=1) == labels)


@pytest.mark.parametrize(
    "loss, expected",
    [
        ("binary_crossentropy", metrics.binary_accuracy),
        (losses.BinaryCrossentropy(from_logits=True), metrics.binary_accuracy),
        ("categorical_crossentropy", metrics.categorical_accuracy),
        (losses.CategoricalCrossentropy, metrics.categorical_accuracy),
        ("sparse_categorical_crossentropy", metrics.sparse_categorical_accuracy),
        (losses.SparseCategoricalCrossentropy(), metrics.sparse_categorical_accuracy),
        ("mse", metrics.accuracy),
        (None, metrics.accuracy),
    ],
)
def test_accuracy_is_resolved_by_loss_and_keeps_its_name(loss, expected):
    fn = metrics.get("accuracy", loss=loss)
    assert fn.__name__ == "accuracy"
    rng = np.random.default_rng(0)
    if expected is metrics.binary_accuracy:
        y, p = rng.integers(0, 2, (8, 1)), rng.uniform(size=(8, 1))
    elif expected is metrics.sparse_categorical_accuracy:
        y, p = rng.integers(0, 3, 8), rng.uniform(size=(8, 3))
    else:
        y, p = np.eye(3)[rng.integers(0, 3, 8)], rng.uniform(size=(8, 3))
    np.testing.assert_array_equal(fn(y, p), expected(y, p))


def test_get_names():
    assert metrics.get("acc").__name__ == "acc"
    assert metrics.get("mse").__name__ == "mse"
    assert metrics.get("binary_accuracy") is metrics.binary_accuracy
    assert metrics.get("mean_absolute_error") is metrics.mean_absolute_error

    def my_metric(y_true, y_pred):
        return np.zeros(len(y_true))

    assert metrics.get(my_metric) is my_metric
    with pytest.raises(ValueError, match="Unknown metric function: 'acuracy'.*accuracy"):
        metrics.get("acuracy")


def test_metrics_accept_values():
    p = Value(np.array([[0.9], [0.1]]))
    np.testing.assert_array_equal(metrics.binary_accuracy(np.array([1, 1]), p), [1, 0])


# -- confusion matrix -----------------------------------------------------------------


def test_confusion_matrix_by_hand():
    y_true = [0, 1, 2, 2, 1, 0]
    y_pred = [0, 2, 2, 2, 1, 1]
    expected = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 2]])  # rows true, columns predicted
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), expected)
    # one-hot truth and probability predictions give the same counts
    probs = np.eye(3)[y_pred] * 0.6 + 0.1
    got = metrics.confusion_matrix(np.eye(3)[y_true], probs)
    np.testing.assert_array_equal(got, expected)
    # labels choose and order the classes
    got = metrics.confusion_matrix(y_true, y_pred, labels=[2, 0])
    np.testing.assert_array_equal(got, [[2, 0], [0, 1]])


def test_confusion_matrix_binary_probabilities_and_strings():
    got = metrics.confusion_matrix(np.array([[1], [0], [1]]), np.array([[0.8], [0.6], [0.3]]))
    np.testing.assert_array_equal(got, [[0, 1], [1, 1]])
    got = metrics.confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"])
    np.testing.assert_array_equal(got, [[1, 0], [1, 1]])


@given(st.lists(st.integers(0, 3), min_size=1, max_size=30), st.randoms())
def test_confusion_matrix_counts(labels, rnd):
    y_true = np.array(labels)
    y_pred = np.array([rnd.randint(0, 3) for _ in labels])
    cm = metrics.confusion_matrix(y_true, y_pred, labels=[0, 1, 2, 3])
    assert cm.sum() == len(labels)
    assert np.trace(cm) == (y_true == y_pred).sum()
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=4))


def test_confusion_matrix_length_mismatch():
    with pytest.raises(ValueError, match="same number of samples, received 3 and 2"):
        metrics.confusion_matrix([0, 1, 1], [0, 1])


# -- metrics that mirror losses ------------------------------------------------------------


@given(
    arrays(
        np.float64, st.tuples(st.integers(1, 6), st.integers(2, 4)), elements=st.floats(0.01, 1)
    ),
    st.integers(0, 1000),
)
def test_crossentropy_metrics_match_the_losses(p, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, p.shape[1], len(p))
    onehot = np.eye(p.shape[1])[labels]
    pairs = [
        ("categorical_crossentropy", onehot),
        ("sparse_categorical_crossentropy", labels),
        ("binary_crossentropy", rng.integers(0, 2, p.shape)),
        ("mape", rng.uniform(0.5, 2, p.shape)),
        ("msle", rng.uniform(0.5, 2, p.shape)),
    ]
    for name, y in pairs:
        probs = p / p.sum(axis=1, keepdims=True) if "categorical" in name else p
        got = metrics.get(name)(y, probs)
        expected = losses.get(name).call(y, Value(probs)).data
        assert got.shape == (len(p),)
        np.testing.assert_allclose(got, expected, rtol=1e-9, err_msg=name)


def test_sparse_categorical_crossentropy_metric_by_hand():
    got = metrics.sparse_categorical_crossentropy([0, 1], np.array([[0.5, 0.5], [0.25, 0.75]]))
    np.testing.assert_allclose(got, [np.log(2), -np.log(0.75)])


def test_top_k_by_hand():
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy([1, 1], p, k=2), [0, 1])
    np.testing.assert_array_equal(metrics.sparse_top_k_categorical_accuracy([1, 1], p, k=3), [1, 1])
    onehot = np.eye(4)[[3, 3]]
    np.testing.assert_array_equal(metrics.top_k_categorical_accuracy(onehot, p, k=1), [1, 0])
    assert metrics.get("top_k_categorical_accuracy")(onehot, p).tolist() == [1.0, 1.0]  # k=5


def test_docstring_examples():
    assert doctest.testmod(metrics).failed == 0
