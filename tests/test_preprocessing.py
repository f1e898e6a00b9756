"""to_categorical, normalize, standardize, StandardScaler, the 60/20/20 split, check_finite."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mlp.preprocessing import (
    StandardScaler,
    check_finite,
    normalize,
    standardize,
    to_categorical,
    train_val_test_split,
)

finite_floats = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


def matrices(min_rows=1, max_rows=30, min_cols=1, max_cols=5):
    return hnp.arrays(
        np.float64,
        st.tuples(st.integers(min_rows, max_rows), st.integers(min_cols, max_cols)),
        elements=finite_floats,
    )


# ----------------------------------------------------------------------------
# to_categorical


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=50), st.integers(0, 3))
def test_to_categorical_round_trips_through_argmax(labels, extra):
    num_classes = max(labels) + 1 + extra
    one_hot = to_categorical(labels, num_classes)
    assert one_hot.shape == (len(labels), num_classes)
    assert one_hot.dtype == np.float32
    assert np.all(one_hot.sum(axis=1) == 1)
    assert set(np.unique(one_hot)) <= {0.0, 1.0}
    np.testing.assert_array_equal(one_hot.argmax(axis=1), labels)


def test_to_categorical_keras_shapes_and_defaults():
    np.testing.assert_array_equal(to_categorical([0, 2]), [[1, 0, 0], [0, 0, 1]])
    assert to_categorical(np.array([[1], [0]])).shape == (2, 2)  # trailing 1 dropped
    assert to_categorical(np.zeros((2, 3), int), 4).shape == (2, 3, 4)
    assert to_categorical([1.0, 0.0], dtype="int64").dtype == np.int64
    assert to_categorical([True, False]).tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    "labels, num_classes, message",
    [
        ([0, -1, 2], None, "labels >= 0, received the label -1"),
        ([0, 1.5], None, "integer class labels, received the non-integer value 1.5"),
        ([0, 3], 3, "label 3, but num_classes=3 allows labels 0..2"),
        ([0, float("nan")], None, "NaN"),
        ([], None, "pass num_classes"),
        ([0, 1], 0, "positive integer, received 0"),
    ],
)
def test_to_categorical_rejects_bad_labels(labels, num_classes, message):
    with pytest.raises(ValueError, match=message):
        to_categorical(labels, num_classes)


def test_to_categorical_rejects_strings():
    with pytest.raises(TypeError, match="integer class labels.*dtype <U"):
        to_categorical(["cat", "dog"])


# ----------------------------------------------------------------------------
# normalize and standardize


@settings(max_examples=50, deadline=None)
@given(matrices())
@example(np.array([[5e-324, 5e-324]]))  # subnormals: the norm must not be rescaled by the peak
def test_normalize_gives_unit_rows_or_zero_rows(x):
    out = normalize(x)
    norms = np.linalg.norm(out, axis=-1)
    zero_rows = np.all(x == 0, axis=-1)
    np.testing.assert_allclose(norms[~zero_rows], 1.0, rtol=1e-9)
    assert np.all(out[zero_rows] == 0)
    # each row keeps its direction: out is x scaled by a positive number
    np.testing.assert_allclose(out * np.linalg.norm(x, axis=-1, keepdims=True), x, atol=1e-9)


def test_normalize_other_axis_and_order_and_dtype():
    x = np.array([[3.0, 1.0], [4.0, -1.0]], dtype=np.float32)
    out = normalize(x, axis=0, order=1)
    np.testing.assert_allclose(out, [[3 / 7, 0.5], [4 / 7, -0.5]], rtol=1e-6)
    assert out.dtype == np.float32
    assert normalize([[3, 4]]).dtype == np.float32  # integers become float32


@settings(max_examples=50, deadline=None)
@given(matrices(min_rows=2))
def test_standardize_gives_zero_mean_and_unit_std_per_feature(x):
    z = standardize(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-7)
    std = x.std(axis=0)
    varying = std > 1e-6 * (1 + np.abs(x).max(axis=0))
    np.testing.assert_allclose(z.std(axis=0)[varying], 1.0, rtol=1e-6)


def test_standardize_with_given_statistics_and_constant_feature():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    np.testing.assert_allclose(standardize(x), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(standardize(x, mean=[1.0, 0.0], std=[2.0, 5.0]), [[0, 1], [1, 1]])


# ----------------------------------------------------------------------------
# StandardScaler


@settings(max_examples=50, deadline=None)
@given(matrices(min_rows=1), matrices(min_rows=1))
def test_scaler_round_trip_and_uses_the_training_statistics(train, new):
    new = new[:, :1].repeat(train.shape[1], axis=1)  # same number of features
    scaler = StandardScaler().fit(train)
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0), rtol=1e-12, atol=1e-12)
    for data in (train, new):
        z = scaler.transform(data)
        np.testing.assert_allclose(scaler.inverse_transform(z), data, rtol=1e-9, atol=1e-9)
        # transform is the affine map with the *training* statistics
        np.testing.assert_allclose(z * scaler.std_ + scaler.mean_, data, rtol=1e-9, atol=1e-9)
    assert np.all(scaler.std_ > 0)


def test_scaler_constant_feature_is_only_centred_and_dtype_is_kept():
    x = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]], dtype=np.float32)
    scaler = StandardScaler()
    z = scaler.fit_transform(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(scaler.std_, [np.sqrt(8 / 3), 1.0], rtol=1e-6)
    np.testing.assert_allclose(z[:, 1], 0.0)
    assert StandardScaler().fit_transform([[1, 2], [3, 4]]).dtype == np.float32


def test_scaler_1d_data_and_options():
    y = np.array([2.0, 4.0, 6.0])
    scaler = StandardScaler().fit(y)
    assert scaler.mean_.shape == ()
    np.testing.assert_allclose(scaler.transform(y), [-1.224744871, 0, 1.224744871], rtol=1e-8)
    np.testing.assert_allclose(StandardScaler(with_mean=False).fit_transform(y), y / y.std())
    np.testing.assert_allclose(StandardScaler(with_std=False).fit_transform(y), y - 4.0)


def test_scaler_config_round_trip_through_json():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(20, 3))
    scaler = StandardScaler().fit(x)
    config = json.loads(json.dumps(scaler.get_config()))
    again = StandardScaler.from_config(config)
    np.testing.assert_allclose(again.transform(x), scaler.transform(x))
    assert StandardScaler.from_config(StandardScaler().get_config()).fitted is False


def test_scaler_errors():
    with pytest.raises(RuntimeError, match=r"not fitted yet: call fit\(x_train\) before transform"):
        StandardScaler().transform([[1.0]])
    scaler = StandardScaler().fit(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"samples of shape \(None, 2\).*shape \(5, 3\)"):
        scaler.transform(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"x contains NaN at index \(1, 0\)"):
        scaler.transform([[0.0, 0.0], [np.nan, 1.0]])
    with pytest.raises(ValueError, match="at least one sample"):
        StandardScaler().fit(np.zeros((0, 2)))


# ----------------------------------------------------------------------------
# the 60/20/20 split


def _rows(parts):
    return [tuple(row) for part in parts for row in np.asarray(part).reshape(len(part), -1)]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(3, 200),
    st.floats(0.0, 0.45),
    st.floats(0.0, 0.45),
    st.integers(0, 2**16),
    st.booleans(),
)
def test_split_sizes_and_partition(n, val_size, test_size, seed, shuffle):
    x = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    try:
        (xt, yt), (xv, yv), (xs, ys) = train_val_test_split(
            x, y, val_size=val_size, test_size=test_size, seed=seed, shuffle=shuffle
        )
    except ValueError as e:  # only when the rounded counts take every sample (n=4, 0.375 each)
        assert "leave no training samples" in str(e)
        assert (val_size + test_size) * n + 1.0 >= n
        return
    assert abs(len(xv) - val_size * n) <= 0.5 and abs(len(xs) - test_size * n) <= 0.5
    assert len(xt) + len(xv) + len(xs) == n and len(xt) >= 1
    # a partition: every sample exactly once, and x and y stay paired
    assert sorted(np.concatenate([yt, yv, ys]).tolist()) == list(range(n))
    for xp, yp in ((xt, yt), (xv, yv), (xs, ys)):
        np.testing.assert_array_equal(xp[:, 0], 2 * yp)
    if not shuffle:
        assert np.concatenate([yt, yv, ys]).tolist() == list(range(n))


def test_split_default_is_60_20_20_and_seeded():
    x = np.arange(1000)
    a = train_val_test_split(x, x, seed=3)
    b = train_val_test_split(x, x, seed=3)
    c = train_val_test_split(x, x, seed=4)
    assert [len(p[0]) for p in a] == [600, 200, 200]
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[0][0], c[0][0])
    x_train, x_val, x_test = train_val_test_split(x, seed=0)  # without y
    assert (len(x_train), len(x_val), len(x_test)) == (600, 200, 200)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=2, max_size=4),
    st.floats(0.05, 0.4),
    st.floats(0.05, 0.4),
    st.integers(0, 2**16),
)
def test_stratified_split_keeps_class_proportions(class_sizes, val_size, test_size, seed):
    y = np.repeat(np.arange(len(class_sizes)), class_sizes)
    n = len(y)
    x = np.arange(n)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    x, y = x[perm], y[perm]
    n_val, n_test = int(np.floor(val_size * n + 0.5)), int(np.floor(test_size * n + 0.5))
    if n_val + n_test >= n:
        with pytest.raises(ValueError, match="leave no training samples"):
            train_val_test_split(x, y, val_size=val_size, test_size=test_size, stratify=True)
        return
    (xt, yt), (xv, yv), (xs, ys) = train_val_test_split(
        x, y, val_size=val_size, test_size=test_size, stratify=True, seed=seed
    )
    assert (len(yv), len(ys)) == (n_val, n_test)
    assert sorted(np.concatenate([xt, xv, xs]).tolist()) == list(range(n))
    np.testing.assert_array_equal(y[np.argsort(x)][np.concatenate([xt, xv, xs])], np.r_[yt, yv, ys])
    for k, size in enumerate(class_sizes):
        # each class gets its share of every set, to within one sample
        assert abs((ys == k).sum() - size * n_test / n) < 1 + 1e-9
        assert abs((yv == k).sum() - size * n_val / n) < 2 + 1e-9


def test_stratified_split_with_one_hot_targets_and_skewed_classes():
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    one_hot = to_categorical(y)
    (_, yt), (_, yv), (_, ys) = train_val_test_split(np.arange(100), one_hot, stratify=True, seed=0)
    assert [int(part[:, 1].sum()) for part in (yt, yv, ys)] == [6, 2, 2]
    # the classes are mixed again inside each set (not all 0s then all 1s)
    (_, yt), _, _ = train_val_test_split(np.arange(100), y, stratify=True, seed=0)
    assert not np.array_equal(yt, np.sort(yt))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(val_size=0.5, test_size=0.5), ValueError, "leave no training samples"),
        (dict(val_size=1.2), ValueError, r"fraction in \[0, 1\), received 1.2"),
        (dict(test_size=-0.1), ValueError, r"fraction in \[0, 1\), received -0.1"),
        (dict(test_size=10), ValueError, "count between 0 and 9"),
        (dict(val_size="20%"), TypeError, "received '20%'"),
    ],
)
def test_split_rejects_bad_fractions(kwargs, error, message):
    with pytest.raises(error, match=message):
        train_val_test_split(np.arange(10), np.arange(10), **kwargs)


def test_split_rejects_mismatched_lengths_and_regression_stratify():
    with pytest.raises(ValueError, match=r"x with 10 \(shape \(10, 2\)\) and y with shape \(9,\)"):
        train_val_test_split(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(ValueError, match="stratify needs class labels"):
        train_val_test_split(np.zeros(10), np.linspace(0, 1, 10), stratify=True)
    with pytest.raises(ValueError, match="stratify=True needs y"):
        train_val_test_split(np.zeros(10), stratify=True)


def test_split_integer_counts():
    (xt, _), (xv, _), (xs, _) = train_val_test_split(
        np.arange(10), np.arange(10), val_size=3, test_size=1
    )
    assert (len(xt), len(xv), len(xs)) == (6, 3, 1)


# ----------------------------------------------------------------------------
# check_finite


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3), elements=finite_floats),
    st.data(),
)
def test_check_finite_names_the_first_bad_index(x, data):
    assert check_finite(x, "x") is not None
    flat_index = data.draw(st.integers(0, x.size - 1))
    bad = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    x = x.copy()
    x.reshape(-1)[flat_index:] = np.where(np.arange(x.size - flat_index) == 0, bad, 0.0)
    index = np.unravel_index(flat_index, x.shape)
    shown = str(int(index[0])) if x.ndim == 1 else str(tuple(int(i) for i in index))
    kind = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[str(bad)]
    with pytest.raises(ValueError) as info:
        check_finite(x, "x_train")
    assert str(info.value).startswith(f"x_train contains {kind} at index {shown} ")


def test_check_finite_counts_and_passes_integers():
    with pytest.raises(ValueError, match=r"2 NaN and 1 infinite values in total, shape \(4,\)"):
        check_finite(np.array([1.0, np.nan, np.inf, np.nan]), "y")
    assert check_finite(np.arange(3), "y").tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="y must hold numbers"):
        check_finite(np.array(["a"]), "y")
