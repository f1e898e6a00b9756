"""The custom-op page (docs/custom_ops.md) runs as written, and Function keeps its promises."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from peers import assert_matches_torch, require_torch, torch

from tinygrad_mlp import Function, Value, grad
from tinygrad_mlp.testing import GradcheckError, function_inputs, gradcheck, gradgradcheck

PAGE = Path(__file__).resolve().parent.parent / "docs" / "custom_ops.md"


def _page_namespace() -> dict:
    blocks = re.findall(r"```python\n(.*?)\n```", PAGE.read_text(), flags=re.S)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    return namespace


def test_the_page_runs_and_its_property_test_passes(capsys):
    namespace = _page_namespace()
    printed = capsys.readouterr().out
    x = np.array([-1.0, 0.5, 2.0])
    s = 1.0 / (1.0 + np.exp(-1.5 * x))
    expected = s + 1.5 * x * s * (1 - s)
    np.testing.assert_allclose(
        np.array(printed.strip("[]\n ").split(), dtype=float), expected, rtol=1e-6
    )
    namespace["test_swish"]()  # the hypothesis test from the page


def test_the_page_shows_what_a_wrong_backward_prints():
    blocks = re.findall(r"```python\n(.*?)\n```", PAGE.read_text(), flags=re.S)
    namespace: dict = {}
    exec(blocks[0].replace("return g * (s +", "return 1.01 * g * (s +"), namespace)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda v: namespace["Swish"].apply(v, 1.5), np.array([0.3, 1.2]))
    shown = re.search(r"```text\n(.*?)\n```", PAGE.read_text(), flags=re.S).group(1)
    for line in str(info.value).splitlines()[1:]:
        assert line.split(" (|difference|")[0] in shown


def test_the_page_swish_matches_pytorch():
    require_torch()
    swish = _page_namespace()["Swish"]
    assert_matches_torch(
        lambda v: swish.apply(v, 1.5),
        lambda t: t * torch.sigmoid(1.5 * t),
        np.array([-2.0, 0.1, 3.0]),
    )


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_values
        return g * 3.0 * x**2


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_values
        return g * 2.0 * x**2  # should be 3 x^2


class Scale(Function):
    """a * b with the gradient of b deliberately halved."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_values
        return g * b, 0.5 * g * a


@given(function_inputs(Cube))
def test_a_correct_function_passes_in_three_lines(args):
    assert gradcheck(Cube.apply, *args)


def test_a_wrong_backward_is_caught_with_input_index_and_both_numbers():
    x = np.array([0.5, -2.0, 1.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongCube.apply, x)
    message = str(info.value)
    # the worst element is index 1 (|2 x^2 - 3 x^2| = x^2 largest at x = -2)
    first = message.splitlines()[1]
    assert "input 0 index (1,)" in first and "d output(1,)" in first
    analytic = float(re.search(r"analytic (\S+)", first).group(1))
    numeric = float(re.search(r"numeric (\S+)", first).group(1))
    assert analytic == pytest.approx(8.0) and numeric == pytest.approx(12.0, rel=1e-6)


def test_the_wrong_input_is_named():
    with pytest.raises(GradcheckError, match=r"for input 1 .*\n.*d output\(1, 0\) / d input 1"):
        gradcheck(Scale.apply, np.array([[1.0], [3.0]]), np.array([[2.0, -1.0], [0.5, 4.0]]))


def test_scalars_and_broadcasting():
    x = Value(2.0)
    y = Cube.apply(x)
    assert y.is_scalar and y.data == 8.0
    y.backward()
    assert x.grad == 12.0
    a, b = Value(np.ones((3, 1))), Value(np.arange(4.0))
    Scale.apply(a, b).sum().backward()  # gradients come back un-broadcast
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 6.0))
    np.testing.assert_array_equal(b.grad, np.full(4, 1.5))


def test_higher_order_through_a_backward_written_with_values():
    x = Value(np.array([1.0, -2.0]))
    (g,) = grad(Cube.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = grad(g.sum(), [x])
    np.testing.assert_allclose(h, 6 * x.data)
    assert gradgradcheck(Cube.apply, np.array([0.5, 1.5]))


def test_dtype_is_kept_and_needs_input_grad_is_set():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, axis):
            seen["needs"] = ctx.needs_input_grad
            return np.cumsum(a * b, axis=axis)

        @staticmethod
        def backward(ctx, g):
            return g.flip(0).cumsum(0).flip(0), g, None

    a = Value(np.ones((2, 3), np.float32))
    b = Value(np.ones((2, 3), np.float32), requires_grad=False)
    out = Probe.apply(a, b, 0)
    assert seen["needs"] == (True, False, False)
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad is None


def test_a_backward_that_returns_the_wrong_count_or_shape_is_an_error():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class BadShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2.0

        @staticmethod
        def backward(ctx, g):
            return np.ones(5)

    with pytest.raises(RuntimeError, match=r"TooFew.backward returned 1 gradient\(s\), expected 2"):
        TooFew.apply(Value(np.ones(2)), Value(np.ones(2))).sum().backward()
    with pytest.raises(
        RuntimeError, match=r"BadShape.backward returned a gradient of shape \(5,\)"
    ):
        BadShape.apply(Value(np.ones(2))).sum().backward()


def test_forward_must_return_one_result():
    class Two(Function):
        @staticmethod
        def forward(ctx, a):
            return a, a

    with pytest.raises(TypeError, match="returns one result"):
        Two.apply(Value(np.ones(2)))


def test_changing_a_saved_input_makes_backward_raise():
    x = Value(np.array([1.0, 2.0]))
    y = Cube.apply(x)
    x.data = np.array([3.0, 4.0])
    with pytest.raises(RuntimeError, match="operation 'Cube'"):
        y.sum().backward()


def test_saved_values_outside_backward_is_an_error():
    captured = {}

    class Keep(Cube):
        @staticmethod
        def forward(ctx, x):
            captured["ctx"] = ctx
            return Cube.forward(ctx, x)

    Keep.apply(Value(1.0))
    with pytest.raises(RuntimeError, match="only inside backward"):
        _ = captured["ctx"].saved_values


def test_a_function_without_forward_or_backward_says_so():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

    class NoForward(Function):
        pass

    with pytest.raises(TypeError, match="NoForward gives no forward"):
        NoForward.apply(Value(1.0))
    y = NoBackward.apply(Value(np.ones(2)))
    with pytest.raises(TypeError, match="NoBackward gives no backward"):
        y.sum().backward()
