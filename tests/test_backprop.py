"""Tests for tinygrad_mlp.backprop: the chain rule written out, checked against the engine."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mlp import Value, backprop
from tinygrad_mlp.datasets import course_example
from tinygrad_mlp.engine import _topological_order
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential


def course_graph():
    """The worked example on scalar Values, labelled as exercise 2 labels it."""
    ex = course_example()

    def weights(kernel, name):
        return [
            [Value(float(w), label=f"{name}{r + 1}{c + 1}") for c, w in enumerate(row)]
            for r, row in enumerate(kernel)
        ]

    W, V = weights(ex.hidden_kernel, "w"), weights(ex.output_kernel, "v")
    x = [Value(float(v), requires_grad=False, label=f"x{i + 1}") for i, v in enumerate(ex.x)]
    a = [(x[0] * W[0][j] + x[1] * W[1][j] + 1.0).sigmoid() for j in range(2)]
    y_hat = [(a[0] * V[0][k] + a[1] * V[1][k] + 1.0).sigmoid() for k in range(2)]
    for j in range(2):
        a[j].label, y_hat[j].label = f"a{j + 1}", f"y_hat{j + 1}"
    loss = 0.5 * ((y_hat[0] - 0.7) ** 2 + (y_hat[1] - 0.0) ** 2)
    return loss, W, V


def test_the_two_slide_formulas_appear_with_their_numbers():
    loss, _, _ = course_graph()
    text = str(backprop.trace(loss, learning_rate=0.1))
    # New_w11 = 0.5 - 0.1*(0.9-0.7)*(0.9*(1-0.9))*0.82 = 0.499 and New_w12 = ... = 0.491
    assert (
        "new v11 = v11 - lr * dL/dv11 = 0.5 - 0.1*(0.9026-0.7)*(0.9026*(1-0.9026))*0.8176 = 0.4985"
        in text
    )
    assert (
        "new v12 = v12 - lr * dL/dv12 = 0.5 - 0.1*(0.8603-0)*(0.8603*(1-0.8603))*0.8176 = 0.4915"
        in text
    )
    assert "e_y_hat1 = (y_hat1 - y) * y_hat1 (1 - y_hat1)" in text and "= 0.01781" in text
    assert "= 0.1034" in text  # the slides' e = 0.103
    # the hidden error e_0 = 0.148*(0.018*0.5 + 0.103*0.5) = 0.009, and New hidden w11 = 0.499
    hidden = "e_a1 = a1 (1 - a1) * (v11 e_y_hat1 + v12 e_y_hat2) = "
    assert hidden + "0.8176*(1 - 0.8176)*(0.5*0.01781 + 0.5*0.1034) = 0.00904" in text
    assert "new w11 = w11 - lr * dL/dw11 = 0.5 - 0.1*0.00904*1 = 0.4991" in text


def test_every_number_agrees_with_the_engine():
    loss, W, V = course_graph()
    result = backprop.trace(loss, learning_rate=0.1)
    loss.backward()
    for w in [w for row in W + V for w in row]:
        step = result.step(w.label)
        assert step.gradient == pytest.approx(w.grad, rel=1e-12)
        assert step.new_value == pytest.approx(w.data - 0.1 * w.grad, rel=1e-12)
        shown = re.search(rf"dL/d{w.label} = .* = (\S+)$", "\n".join(step.lines), re.M)
        assert float(shown.group(1)) == pytest.approx(w.grad, rel=5e-4, abs=1e-12)


def test_trace_leaves_grads_and_labels_alone():
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a.exp()
    backprop.trace(c)
    assert a.grad == 0.0 and b.grad == 0.0 and a.label == "" and b.label == ""


def test_parameters_come_in_the_engines_backward_order():
    loss, _, _ = course_graph()
    order = backprop.order(loss)
    assert order[0] is loss
    assert order == list(reversed(_topological_order(loss)))
    params = [v.label for v in order if not v.parents and v.requires_grad]
    assert [s.name for s in backprop.trace(loss).steps] == params
    # every Value comes after all the Values computed from it
    position = {id(v): k for k, v in enumerate(order)}
    for v in order:
        for p in v.parents:
            if p.requires_grad:
                assert position[id(p)] > position[id(v)]


def test_a_general_scalar_graph_sums_the_products_along_its_paths():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a.exp()
    c.label = "c"
    text = str(backprop.trace(c))
    assert "dc/d[*] * d[*]/da = 1 * -3 = -3" in text
    assert "dc/d[exp] * d[exp]/da = 1 * 7.389 = 7.389" in text
    assert "the sum over the 2 paths = 4.389" in text


@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(0.5, 2))
def test_path_products_always_add_up_to_the_gradient(x, y, z):
    a, b, c = Value(x, label="a"), Value(y, label="b"), Value(z, label="c")
    out = (a * b + a.tanh() * c + c.log() * a) * b
    result = backprop.trace(out)
    out.backward()
    for v in (a, b, c):
        assert result.step(v.label).gradient == pytest.approx(v.grad, rel=1e-12, abs=1e-12)


def test_a_tensor_graph_shows_the_path_and_the_gradient():
    W = Value(np.array([[0.5, -0.2], [0.1, 0.3]]), label="W")
    x = Value(np.array([[1.0, 2.0]]), requires_grad=False)
    loss = ((x @ W).tanh() ** 2).mean()
    result = backprop.trace(loss, learning_rate=0.1)
    text = str(result)
    assert "path: L <- [mean] <- [**] <- [tanh] <- [@] <- W" in text
    loss.backward()
    np.testing.assert_allclose(result.step("W").gradient, W.grad)
    np.testing.assert_allclose(result.step("W").new_value, W.data - 0.1 * W.grad)


def test_a_sequential_model_on_one_sample():
    ex = course_example()
    model = Sequential(
        [Dense(2, activation="sigmoid", input_dim=2), Dense(2, activation="sigmoid")]
    )
    model.set_weights(ex.weights)
    result = backprop.trace(model, x=ex.x, y=ex.y, learning_rate=0.1)
    text = str(result)
    assert "0.5 - 0.1*(0.9026-0.7)*(0.9026*(1-0.9026))*0.8176 = 0.4985" in text
    assert "b2_1: the bias of y_hat1" in text
    # the same step as fit: SGD(0.1) on the mean squared error (1/2 sum for 2 outputs)
    model.compile(loss="mse", optimizer="sgd")
    model.optimizer.learning_rate = 0.1
    model.fit(ex.x[None], ex.y[None], epochs=1, batch_size=1, verbose=0)
    kernel_2 = model.get_weights()[2]
    assert result.step("w2_11").new_value == pytest.approx(float(kernel_2[0, 0]), abs=1e-6)
    assert result.step("w2_12").new_value == pytest.approx(float(kernel_2[0, 1]), abs=1e-6)


def test_it_renders_as_a_table_in_jupyter():
    loss, _, _ = course_graph()
    page = backprop.trace(loss, learning_rate=0.1)._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == 1 + 8
    assert "new value" in page and "0.4985" in page


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one-element loss"):
        backprop.trace(Value(np.ones(3)))
    with pytest.raises(ValueError, match="learning_rate"):
        backprop.trace(Value(2.0) * Value(3.0), learning_rate=float("nan"))
    with pytest.raises(TypeError, match="loss Value or a Sequential"):
        backprop.trace("loss")
    model = Sequential([Dense(2, input_dim=2)])
    with pytest.raises(ValueError, match="one sample"):
        backprop.trace(model)
    with pytest.raises(ValueError, match="outputs"):
        backprop.trace(model, x=[1.0, 0.0], y=[1.0, 2.0, 3.0])
