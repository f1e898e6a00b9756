"""Initializers: Keras' limits and standard deviations, seeds, dtypes, lookup."""

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mlp import initializers as I

kernel_shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))

# (class, scale, mode, distribution) as Keras defines the presets
PRESETS = [
    (I.GlorotUniform, 1.0, "fan_avg", "uniform"),
    (I.GlorotNormal, 1.0, "fan_avg", "normal"),
    (I.HeUniform, 2.0, "fan_in", "uniform"),
    (I.HeNormal, 2.0, "fan_in", "normal"),
    (I.LecunUniform, 1.0, "fan_in", "uniform"),
    (I.LecunNormal, 1.0, "fan_in", "normal"),
]


def target_std(shape, scale, mode):
    fan_in, fan_out = shape[0], shape[1]
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return math.sqrt(scale / n)


@pytest.mark.parametrize("cls, scale, mode, dist", PRESETS)
@given(shape=kernel_shapes, seed=st.integers(0, 1000))
def test_bounds(cls, scale, mode, dist, shape, seed):
    w = cls(seed=seed)(shape)
    assert w.shape == shape and w.dtype == np.float32
    std = target_std(shape, scale, mode)
    if dist == "uniform":
        # e.g. Glorot: limit = sqrt(6 / (fan_in + fan_out)) = sqrt(3) * std
        assert np.abs(w).max() <= math.sqrt(3) * std * (1 + 1e-6)
    else:
        # truncated at 2 standard deviations of the untruncated draw (std / 0.8796)
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978 * (1 + 1e-6)


@pytest.mark.parametrize("cls, scale, mode, dist", PRESETS)
def test_statistics(cls, scale, mode, dist):
    shape = (300, 200)  # 60,000 draws: the sample std is within ~0.5% of the truth
    w = cls(seed=1)(shape, dtype="float64")
    std = target_std(shape, scale, mode)
    assert abs(w.mean()) < 0.02 * std
    assert w.std() == pytest.approx(std, rel=0.03)
    if dist == "uniform":
        assert np.abs(w).max() == pytest.approx(math.sqrt(3) * std, rel=0.01)


def test_glorot_uniform_limit_by_hand():
    # fan_in 4, fan_out 2: limit sqrt(6 / 6) = 1
    w = I.GlorotUniform(seed=0)((4, 2), dtype="float64")
    assert np.abs(w).max() <= 1.0
    w = I.GlorotUniform(seed=0)((400, 200), dtype="float64")
    assert np.abs(w).max() == pytest.approx(math.sqrt(6 / 600), rel=0.01)


def test_random_and_constant_initializers():
    w = I.RandomNormal(mean=1.0, stddev=0.5, seed=0)((200, 300), dtype="float64")
    assert w.mean() == pytest.approx(1.0, abs=0.01) and w.std() == pytest.approx(0.5, rel=0.02)
    w = I.RandomUniform(-0.2, 0.3, seed=0)((200, 300))
    assert w.min() >= -0.2 and w.max() <= 0.3 and w.mean() == pytest.approx(0.05, abs=0.01)
    w = I.TruncatedNormal(mean=0.0, stddev=0.1, seed=0)((200, 300), dtype="float64")
    assert np.abs(w).max() <= 0.2 and w.std() == pytest.approx(0.1 * 0.8796, rel=0.03)
    np.testing.assert_array_equal(I.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(I.Ones()((3,)), np.ones(3))
    np.testing.assert_array_equal(I.Constant(2.5)((2,), dtype="float64"), [2.5, 2.5])


def test_compute_fans():
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((3, 5)) == (3, 5)
    assert I.compute_fans((2, 2, 3, 5)) == (12, 20)  # receptive field 4


def test_seeds():
    a, b = I.HeNormal(seed=42), I.HeNormal(seed=42)
    first = a((5, 5))
    np.testing.assert_array_equal(first, b((5, 5)))  # same seed, same sequence
    assert not np.array_equal(first, a((5, 5)))  # successive calls differ (Keras 3)
    assert not np.array_equal(first, I.HeNormal(seed=43)((5, 5)))
    # unseeded draws follow NumPy's global seed, so a whole model is reproducible
    saved = np.random.get_state()
    try:
        np.random.seed(7)
        x = I.GlorotUniform()((4, 4))
        np.random.seed(7)
        np.testing.assert_array_equal(x, I.GlorotUniform()((4, 4)))
    finally:
        np.random.set_state(saved)


@pytest.mark.parametrize("dtype", ["float32", "float64", np.float16])
def test_dtype(dtype):
    for init in (I.GlorotUniform(seed=0), I.HeNormal(seed=0), I.Zeros(), I.Constant(1)):
        assert init((2, 3), dtype=dtype).dtype == np.dtype(dtype)


def test_bad_arguments():
    with pytest.raises(ValueError, match="floating-point.*int32"):
        I.Zeros()((2,), dtype="int32")
    with pytest.raises(ValueError, match="mode='fan_sum'"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="minval <= maxval"):
        I.RandomUniform(1.0, 0.0)
    with pytest.raises(ValueError, match=r"non-negative.*\(-1, 2\)"):
        I.Ones()((-1, 2))


def test_lookup_and_serialization():
    assert isinstance(I.get("glorot_uniform"), I.GlorotUniform)
    assert isinstance(I.get("GlorotUniform"), I.GlorotUniform)
    assert isinstance(I.get("he_normal"), I.HeNormal)
    assert isinstance(I.get("zeros"), I.Zeros)
    assert isinstance(I.get(I.Ones), I.Ones)
    init = I.HeUniform(seed=3)
    assert I.get(init) is init

    def custom(shape, dtype="float32"):
        return np.full(shape, 0.5, dtype=dtype)

    assert I.get(custom) is custom
    with pytest.raises(ValueError, match="Unknown initializer: 'glorot'.*glorot_uniform"):
        I.get("glorot")
    for init in (
        I.GlorotUniform(seed=3),
        I.Constant(0.7),
        I.RandomNormal(0.1, 0.2, seed=5),
        I.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
        I.Zeros(),
    ):
        config = I.serialize(init)
        assert config["class_name"] == type(init).__name__
        back = I.deserialize(config)
        assert type(back) is type(init) and back.get_config() == init.get_config()
        np.testing.assert_array_equal(back((3, 4)), type(init)(**init.get_config())((3, 4)))


@given(shape=kernel_shapes, seed=st.integers(0, 1000))
def test_orthogonal(shape, seed):
    w = I.Orthogonal(gain=2.0, seed=seed)(shape, dtype="float64")
    rows, cols = shape
    # the shorter side is orthonormal (times gain^2)
    gram = w.T @ w if rows >= cols else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(shape)), atol=1e-9)


def test_identity_and_shape_errors():
    np.testing.assert_array_equal(I.Identity(3.0)((2, 3)), [[3, 0, 0], [0, 3, 0]])
    with pytest.raises(ValueError, match=r"2-D shape, received \(3,\)"):
        I.Identity()((3,))
    with pytest.raises(ValueError, match=r"at least two dimensions, received \(3,\)"):
        I.get("orthogonal")((3,))


def test_docstring_examples():
    assert doctest.testmod(I).failed == 0
