"""Optimizers: each rule against hand arithmetic and PyTorch, schedules, state, config."""

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_mlp import optimizers
from tinygrad_mlp.engine import Value

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

# two gradients for two steps, never zero (so eps-free comparisons stay defined)
nonzero = st.floats(0.05, 3.0).flatmap(lambda m: st.sampled_from([m, -m]))


@st.composite
def problem(draw):
    shape = draw(st.sampled_from([(3,), (2, 3), (1,)]))
    w = draw(arrays(np.float64, shape, elements=st.floats(-2, 2)))
    g1 = draw(arrays(np.float64, shape, elements=nonzero))
    g2 = draw(arrays(np.float64, shape, elements=nonzero))
    return w, g1, g2


def run(opt, w, grads):
    """Apply each gradient in turn to a copy of w; the array is updated in place."""
    var = Value(w.copy())
    data = var.data
    for g in grads:
        opt.apply_gradients([(g, var)])
    assert var.data is data  # in place: the same array object
    assert opt.iterations == len(grads)
    return var.data


# -- the published rules, computed by hand -------------------------------------------


@given(problem(), st.floats(0.001, 0.5), st.floats(0.0, 0.99), st.booleans())
def test_sgd_two_steps_by_hand(p, lr, momentum, nesterov):
    w, g1, g2 = p
    got = run(optimizers.SGD(lr, momentum, nesterov), w, [g1, g2])
    v1 = -lr * g1
    v2 = momentum * v1 - lr * g2
    if nesterov:
        w1 = w + momentum * v1 - lr * g1
        expected = w1 + momentum * v2 - lr * g2
    else:
        expected = w + v1 + v2
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_sgd_course_numbers():
    """SGD(0.1, 0.9) with gradient 1 twice: v = -0.1 then -0.19; w = 1 - 0.1 - 0.19."""
    got = run(optimizers.SGD(0.1, 0.9), np.array([1.0]), [np.array([1.0])] * 2)
    assert np.isclose(got[0], 0.71)


@given(problem(), st.floats(0.001, 0.5))
def test_adagrad_two_steps_by_hand(p, lr):
    w, g1, g2 = p
    eps, a0 = 1e-7, 0.1
    got = run(optimizers.Adagrad(lr), w, [g1, g2])
    a1 = a0 + g1**2
    a2 = a1 + g2**2
    expected = w - lr * g1 / np.sqrt(a1 + eps) - lr * g2 / np.sqrt(a2 + eps)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@given(problem(), st.floats(0.001, 0.1), st.floats(0.0, 0.9), st.booleans())
def test_rmsprop_two_steps_by_hand(p, lr, momentum, centered):
    w, g1, g2 = p
    rho, eps = 0.9, 1e-7
    got = run(optimizers.RMSprop(lr, rho, momentum, centered=centered), w, [g1, g2])
    s = np.zeros_like(w)
    mean_g = np.zeros_like(w)
    u = np.zeros_like(w)
    expected = w.copy()
    for g in (g1, g2):
        s = rho * s + (1 - rho) * g * g
        mean_g = rho * mean_g + (1 - rho) * g
        denom = s - mean_g**2 + eps if centered else s + eps
        step = lr * g / np.sqrt(denom)
        u = momentum * u + step
        expected = expected - (u if momentum > 0 else step)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@given(problem(), st.floats(0.001, 0.1), st.booleans())
def test_adam_two_steps_by_hand(p, lr, amsgrad):
    w, g1, g2 = p
    b1, b2, eps = 0.9, 0.999, 1e-7
    got = run(optimizers.Adam(lr, amsgrad=amsgrad), w, [g1, g2])
    m = v = vmax = np.zeros_like(w)
    expected = w.copy()
    for t, g in enumerate((g1, g2), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        expected = expected - alpha * m / (np.sqrt(vmax if amsgrad else v) + eps)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@given(problem(), st.floats(0.001, 0.1))
def test_nadam_two_steps_by_hand(p, lr):
    w, g1, g2 = p
    b1, b2, eps = 0.9, 0.999, 1e-7
    got = run(optimizers.Nadam(lr), w, [g1, g2])

    def mu(t):  # Keras 3's momentum schedule
        return b1 * (1 - 0.5 * 0.96**t)

    m = v = np.zeros_like(w)
    expected = w.copy()
    product = 1.0
    for t, g in enumerate((g1, g2), start=1):
        product *= mu(t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = mu(t + 1) * m / (1 - product * mu(t + 1)) + (1 - mu(t)) * g / (1 - product)
        v_hat = v / (1 - b2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# -- the same steps as torch.optim where the rule is the same ----------------------------


def torch_run(make, w, grads):
    # float64 default: torch then keeps its scalar state (Nadam's momentum product) in float64
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        param = torch.nn.Parameter(torch.tensor(w.copy()))
        opt = make([param])
        for g in grads:
            opt.zero_grad()
            param.grad = torch.tensor(g)
            opt.step()
        return param.detach().numpy()
    finally:
        torch.set_default_dtype(previous)


@needs_torch
@given(problem())
def test_match_torch_optim(p):
    """Keras puts epsilon inside the sqrt (Adagrad, RMSprop) or unscaled by the bias
    correction (Adam); with epsilon=0 the rules coincide, Nadam's even with its eps."""
    w, g1, g2 = p
    grads = [g1, g2, g1]
    O, T = optimizers, torch.optim
    cases = [
        (O.SGD(0.1), lambda ps: T.SGD(ps, lr=0.1)),
        (O.SGD(0.1, 0.9), lambda ps: T.SGD(ps, lr=0.1, momentum=0.9)),
        (O.SGD(0.1, 0.9, True), lambda ps: T.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
        (
            O.Adagrad(0.1, epsilon=0.0),
            lambda ps: T.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=0.0),
        ),
        (
            O.RMSprop(0.01, rho=0.8, epsilon=0.0),
            lambda ps: T.RMSprop(ps, lr=0.01, alpha=0.8, eps=0.0),
        ),
        (
            O.RMSprop(0.01, momentum=0.5, centered=True, epsilon=0.0),
            lambda ps: T.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, eps=0.0),
        ),
        (O.Adam(0.01, epsilon=0.0), lambda ps: T.Adam(ps, lr=0.01, eps=0.0)),
        (
            O.Adam(0.01, epsilon=0.0, amsgrad=True),
            lambda ps: T.Adam(ps, lr=0.01, eps=0.0, amsgrad=True),
        ),
        (
            O.AdamW(0.01, weight_decay=0.1, epsilon=0.0),
            lambda ps: T.AdamW(ps, lr=0.01, weight_decay=0.1, eps=0.0),
        ),
        # torch's momentum_decay=1 gives Keras 3's schedule 0.96^t
        (O.Nadam(0.01), lambda ps: T.NAdam(ps, lr=0.01, eps=1e-7, momentum_decay=1.0)),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(
            run(ours, w, grads),
            torch_run(theirs, w, grads),
            rtol=1e-9,
            atol=1e-12,
            err_msg=repr(ours),
        )


# -- dtype, scalars, several variables ---------------------------------------------------------


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "nadam"])
def test_float32_stays_float32_and_slots_follow_variables(name):
    opt = optimizers.get(name)
    a = Value(np.ones((2, 3), np.float32))
    b = Value(np.ones(3, np.float32))
    for _ in range(2):
        opt.apply_gradients([(np.full((2, 3), 0.5), a), (np.full(3, -0.5, np.float32), b)])
    assert a.data.dtype == np.float32 and b.data.dtype == np.float32
    assert (a.data < 1).all() and (b.data > 1).all()
    assert opt.variables == [a, b]
    state = opt.get_state()
    for key, arr in state.items():
        if key[-2:] == "_0":
            assert arr.shape == (2, 3) and arr.dtype == np.float32
        elif key[-2:] == "_1":
            assert arr.shape == (3,)


def test_none_gradients_are_skipped_and_shapes_checked():
    a, b = Value(np.ones(2)), Value(np.ones(2))
    opt = optimizers.SGD(0.5)
    opt.apply_gradients([(None, a), (np.ones(2), b)])
    np.testing.assert_array_equal(a.data, [1, 1])
    np.testing.assert_array_equal(b.data, [0.5, 0.5])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        opt.apply_gradients([(np.ones(3), a)])


def test_apply_spelling():
    a, b = Value(np.ones(2)), Value(np.ones(1))
    opt = optimizers.SGD(0.5)
    opt.apply([np.ones(2), np.full(1, 2.0)], [a, b])
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [0.0])
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply([np.ones(2)], [a, b])


def test_minimize():
    w = Value(np.array([3.0]))
    opt = optimizers.SGD(0.25)
    for _ in range(20):
        opt.minimize((w * w).sum(), [w])  # gradient 2w: w <- w/2
    assert abs(w.data[0]) < 1e-5


@given(problem(), st.floats(0.01, 0.5), st.floats(0.0, 0.5))
def test_weight_decay_by_hand(p, lr, wd):
    """Keras 3's decoupled decay: w -= lr wd w, then the optimizer's own step."""
    w, g1, g2 = p
    got = run(optimizers.SGD(lr, weight_decay=wd), w, [g1, g2])
    w1 = w - lr * wd * w - lr * g1
    expected = w1 - lr * wd * w1 - lr * g2
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert optimizers.get("adamw").weight_decay == 0.004


# -- clipping -------------------------------------------------------------------------------


def test_clipping():
    g = np.array([3.0, 4.0])  # norm 5
    got = run(optimizers.SGD(1.0, clipnorm=1.0), np.zeros(2), [g])
    np.testing.assert_allclose(got, [-0.6, -0.8])
    got = run(optimizers.SGD(1.0, clipvalue=3.5), np.zeros(2), [g])
    np.testing.assert_allclose(got, [-3.0, -3.5])
    a, b = Value(np.zeros(1)), Value(np.zeros(1))
    optimizers.SGD(1.0, global_clipnorm=1.0).apply_gradients(
        [(np.array([3.0]), a), (np.array([4.0]), b)]
    )
    np.testing.assert_allclose([a.data[0], b.data[0]], [-0.6, -0.8])
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


# -- schedules ---------------------------------------------------------------------------------


@given(st.integers(0, 10_000), st.integers(1, 500), st.floats(0.1, 0.99))
def test_exponential_decay(step, decay_steps, rate):
    smooth = optimizers.ExponentialDecay(0.1, decay_steps, rate)
    stairs = optimizers.ExponentialDecay(0.1, decay_steps, rate, staircase=True)
    assert math.isclose(smooth(step), 0.1 * rate ** (step / decay_steps), rel_tol=1e-12)
    assert math.isclose(stairs(step), 0.1 * rate ** (step // decay_steps), rel_tol=1e-12)
    assert stairs(step) >= smooth(step) * (1 - 1e-12)


def test_step_and_piecewise_and_inverse_time():
    step = optimizers.StepDecay(0.1, steps_per_drop=10, drop=0.5)
    assert [step(s) for s in (0, 9, 10, 25)] == [0.1, 0.1, 0.05, 0.025]
    piece = optimizers.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [piece(s) for s in (0, 100, 101, 200, 201)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    inverse = optimizers.InverseTimeDecay(1.0, 10, 0.5)
    assert math.isclose(inverse(20), 1.0 / (1 + 0.5 * 2))
    with pytest.raises(ValueError, match="one more value"):
        optimizers.PiecewiseConstantDecay([1, 2], [1.0])


@given(st.integers(0, 2000), st.integers(1, 500), st.floats(0.0, 0.5))
def test_cosine_and_polynomial_decay(step, decay_steps, alpha):
    cosine = optimizers.CosineDecay(0.1, decay_steps, alpha)
    s = min(step, decay_steps)
    expected = 0.1 * ((1 - alpha) * (1 + math.cos(math.pi * s / decay_steps)) / 2 + alpha)
    assert math.isclose(cosine(step), expected, rel_tol=1e-12)
    assert math.isclose(cosine(0), 0.1) and math.isclose(cosine(decay_steps), 0.1 * alpha)
    poly = optimizers.PolynomialDecay(0.1, decay_steps, end_learning_rate=0.01, power=2.0)
    expected = 0.09 * (1 - s / decay_steps) ** 2 + 0.01
    assert math.isclose(poly(step), expected, rel_tol=1e-12)
    cyc = optimizers.PolynomialDecay(0.1, decay_steps, end_learning_rate=0.0, cycle=True)
    assert 0.0 <= cyc(step) <= 0.1


def test_schedule_is_called_with_steps_taken():
    seen = []

    def schedule(step):
        seen.append(step)
        return 0.1 * (step + 1)

    opt = optimizers.SGD(schedule)
    got = run(opt, np.zeros(1), [np.ones(1)] * 3)
    assert seen == [0, 1, 2]
    assert np.isclose(got[0], -(0.1 + 0.2 + 0.3))
    assert np.isclose(opt.learning_rate, 0.4)  # the rate the next step will use


def test_learning_rate_is_settable():
    opt = optimizers.Adam()
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.get_config()["learning_rate"] == 0.5
    opt.lr = 0.25  # Keras 2 spelling
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError, match="received -1"):
        opt.learning_rate = -1
    with pytest.raises(TypeError, match="received 'fast'"):
        opt.learning_rate = "fast"


# -- state and config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.SGD(0.1, 0.9, True),
        lambda: optimizers.Adagrad(0.1),
        lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        lambda: optimizers.Adam(0.01, amsgrad=True),
        lambda: optimizers.Nadam(0.01),
    ],
)
def test_state_roundtrip_resumes_exactly(make):
    rng = np.random.default_rng(0)
    grads = [(rng.normal(size=(2, 2)), rng.normal(size=2)) for _ in range(6)]
    a, b = Value(rng.normal(size=(2, 2))), Value(rng.normal(size=2))
    first = make()
    for ga, gb in grads[:3]:
        first.apply_gradients([(ga, a), (gb, b)])
    state = first.get_state()
    assert int(state["iterations"]) == 3
    # a fresh optimizer (as after loading a model) restores before it has seen the variables
    second = optimizers.deserialize(optimizers.serialize(first))
    second.set_state(state)
    a2, b2 = Value(a.data.copy()), Value(b.data.copy())
    for ga, gb in grads[3:]:
        first.apply_gradients([(ga, a), (gb, b)])
        second.apply_gradients([(ga, a2), (gb, b2)])
    np.testing.assert_allclose(a2.data, a.data, rtol=1e-12)
    np.testing.assert_allclose(b2.data, b.data, rtol=1e-12)
    with pytest.raises(ValueError, match="no state 'bogus_0'"):
        second.set_state({"bogus_0": np.zeros(2)})


def test_config_roundtrip_with_schedule():
    for schedule in (
        optimizers.ExponentialDecay(0.1, 100, 0.9, staircase=True),
        optimizers.StepDecay(0.1, 10, 0.5),
        optimizers.PiecewiseConstantDecay([10], [0.1, 0.01]),
        optimizers.InverseTimeDecay(0.1, 10, 0.5),
        optimizers.PolynomialDecay(0.1, 100, power=2.0),
        optimizers.CosineDecay(0.1, 100, alpha=0.1),
    ):
        opt = optimizers.SGD(schedule, 0.9)
        config = optimizers.serialize(opt)
        assert config["class_name"] == "SGD"
        back = optimizers.deserialize(config)
        assert type(back._learning_rate) is type(schedule)
        assert back.get_config() == opt.get_config()
        assert [back._learning_rate(s) for s in (0, 50)] == [schedule(s) for s in (0, 50)]
    for cls in (
        optimizers.Adagrad,
        optimizers.RMSprop,
        optimizers.Adam,
        optimizers.AdamW,
        optimizers.Nadam,
    ):
        opt = cls(learning_rate=0.123)
        assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == opt.get_config()


def test_get_and_defaults():
    assert isinstance(optimizers.get("SGD"), optimizers.SGD)
    adam = optimizers.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    sgd = optimizers.SGD(0.1, 0.9)  # positional, as the course writes it
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.1, 0.9, False)
    assert optimizers.SGD().learning_rate == 0.01
    assert optimizers.get(adam) is adam
    assert isinstance(optimizers.get(optimizers.RMSprop), optimizers.RMSprop)
    with pytest.raises(
        ValueError,
        match="Valid names are: adadelta, adagrad, adam, adamax, adamw, ftrl, lion, nadam, "
        "rmsprop, sgd",
    ):
        optimizers.get("adamx")
    with pytest.raises(ValueError, match="momentum in"):
        optimizers.SGD(0.1, 1.5)


def test_restored_state_must_fit_the_variables():
    opt = optimizers.Adam()
    opt.set_state({"iterations": np.array(4), "momentum_0": np.zeros(3), "velocity_0": np.zeros(3)})
    w = Value(np.ones(2))
    with pytest.raises(ValueError, match=r"'momentum_0' has shape \(3,\).*shape \(2,\)"):
        opt.apply_gradients([(np.ones(2), w)])
    np.testing.assert_array_equal(w.data, [1.0, 1.0])  # nothing changed
    assert opt.iterations == 4 and opt.variables == []


def test_docstring_examples():
    assert doctest.testmod(optimizers).failed == 0
