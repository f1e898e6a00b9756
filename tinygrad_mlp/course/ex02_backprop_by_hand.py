"""Exercise 2 — back propagation worked by hand on the course's example, then by the engine.

The course's 2-2-2 sigmoid network (``datasets.course_example()``): inputs
x = (1, 0), targets y = (0.7, 0), every bias 1, loss L = 1/2 sum (y_hat - y)^2,
learning rate 0.1.

Output layer (weight w_jk from hidden j to output k), with the output error
    e_k = (y_hat_k - y_k) * y_hat_k * (1 - y_hat_k)
    w_jk <- w_jk - lr * e_k * a_j
Hidden layer (weight w_ij from input i to hidden j), with the recursive error
    e_j = a_j (1 - a_j) * sum_k w_jk e_k
    w_ij <- w_ij - lr * e_j * x_i

Every figure is computed, and printed beside the slide's rounded figure. The
slides hold the biases fixed; the Keras route at the end trains them too.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from tinygrad_mlp import Value
from tinygrad_mlp.datasets import course_example


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def forward(ex, hidden_kernel: np.ndarray, output_kernel: np.ndarray):
    """Hidden activations a, outputs y_hat and L = 1/2 sum (y_hat - y)^2 (biases as given)."""
    a = sigmoid(ex.x @ hidden_kernel + ex.hidden_bias)
    y_hat = sigmoid(a @ output_kernel + ex.output_bias)
    return a, y_hat, 0.5 * float(np.sum((y_hat - ex.y) ** 2))


def _row(what: str, computed: float, slide: str) -> None:
    print(f"  {what:<62} {computed:>9.4f}   {slide:>6}")


def by_hand(ex) -> dict:
    """The slides' computation, step by step; returns every figure."""
    lr, W, V = ex.learning_rate, ex.hidden_kernel, ex.output_kernel
    a, y_hat, loss = forward(ex, W, V)
    e_out = (y_hat - ex.y) * y_hat * (1 - y_hat)  # e_k
    new_V = V - lr * np.outer(a, e_out)  # w_jk <- w_jk - lr e_k a_j
    e_hidden = a * (1 - a) * (V @ e_out)  # e_j = g'(a_j) sum_k w_jk e_k (the old w_jk)
    new_W = W - lr * np.outer(ex.x, e_hidden)  # w_ij <- w_ij - lr e_j x_i
    a2, y_hat2, loss2 = forward(ex, new_W, new_V)
    return {
        "a": a,
        "y_hat": y_hat,
        "loss": loss,
        "e_out": e_out,
        "e_hidden": e_hidden,
        "new_W": new_W,
        "new_V": new_V,
        "a2": a2,
        "y_hat2": y_hat2,
        "loss2": loss2,
    }


def print_by_hand(ex, f: dict) -> None:
    a, y_hat, e, eh = f["a"], f["y_hat"], f["e_out"], f["e_hidden"]
    V = ex.output_kernel
    print(f"  {'':<62} {'computed':>9}   {'slide':>6}")
    print("forward pass")
    _row("hidden activations a_1 = a_2 = sigmoid(1 + 1 * 0.5)", a[0], "0.82")
    _row("output y_hat_1 = sigmoid(1 + a_1 * 0.5 + a_2 * 1.0)", y_hat[0], "0.90")
    _row("output y_hat_2 = sigmoid(1 + a_1 * 0.5 + a_2 * 0.5)", y_hat[1], "0.86")
    _row("L = 1/2 ((y_hat_1 - 0.7)^2 + (y_hat_2 - 0)^2)", f["loss"], "0.39")
    print("output layer: w <- w - lr * (y_hat - y) * y_hat (1 - y_hat) * a")
    _row(
        f"New_w11 = 0.5 - 0.1*({y_hat[0]:.2f}-0.7)*({y_hat[0]:.2f}*(1-{y_hat[0]:.2f}))*{a[0]:.2f}",
        f["new_V"][0, 0],
        "0.499",
    )
    _row(
        f"New_w12 = 0.5 - 0.1*({y_hat[1]:.2f}-0)*({y_hat[1]:.2f}*(1-{y_hat[1]:.2f}))*{a[0]:.2f}",
        f["new_V"][0, 1],
        "0.491",
    )
    _row("New_w21 (hidden 2 -> output 1) = 1.0 - 0.1 * e_1 * a_2", f["new_V"][1, 0], "0.998")
    print("output errors e_k = (y_hat_k - y_k) * y_hat_k (1 - y_hat_k)")
    _row("e_1", e[0], "0.018")
    _row("e_2", e[1], "0.103")
    print("hidden layer: e_j = a_j (1 - a_j) * sum_k w_jk e_k,  w <- w - lr * e_j * x_i")
    _row(
        f"e_0 = {a[0] * (1 - a[0]):.3f}*({e[0]:.3f}*{V[0, 0]} + {e[1]:.3f}*{V[0, 1]})",
        eh[0],
        "0.009",
    )
    _row(f"New hidden w11 = 0.5 - 0.1*{eh[0]:.3f}*1", f["new_W"][0, 0], "0.499")
    print("forward pass again, with the new weights (the slides keep the biases at 1)")
    _row("hidden activation a_1", f["a2"][0], "0.817")
    _row("output y_hat_1", f["y_hat2"][0], "0.902")
    _row("output y_hat_2", f["y_hat2"][1], "0.858")
    _row("L", f["loss2"], "0.388")
    print(
        f"  the loss fell from {f['loss']:.4f} to {f['loss2']:.4f} (the slides round each "
        "step to 2-3 digits, hence their 0.388)"
    )


def by_engine(ex, out_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """The same network on scalar Values, one per weight: backward() gives dL/dw."""

    def weights(kernel: np.ndarray, name: str) -> list[list[Value]]:
        return [[Value(float(w), label=f"{name}{r + 1}{c + 1}") for c, w in enumerate(row)]
                for r, row in enumerate(kernel)]  # fmt: skip

    W = weights(ex.hidden_kernel, "w")  # input i -> hidden j
    V = weights(ex.output_kernel, "v")  # hidden j -> output k
    x = [Value(float(ex.x[i]), requires_grad=False, label=f"x{i + 1}") for i in range(2)]
    b = 1.0  # the slides' fixed biases
    a = [(x[0] * W[0][j] + x[1] * W[1][j] + b).sigmoid() for j in range(2)]
    y_hat = [(a[0] * V[0][k] + a[1] * V[1][k] + b).sigmoid() for k in range(2)]
    for j in range(2):
        a[j].label, y_hat[j].label = f"a{j + 1}", f"y_hat{j + 1}"
    loss = 0.5 * ((y_hat[0] - float(ex.y[0])) ** 2 + (y_hat[1] - float(ex.y[1])) ** 2)
    loss.label = "L"
    from tinygrad_mlp import backprop

    print("\nbackprop.trace(L, learning_rate=0.1): the chain rule for every weight, in the")
    print("order backward() reaches them (the slides' w for the output layer is v here)")
    print(backprop.trace(loss, learning_rate=ex.learning_rate))
    print()
    loss.backward()
    grad_W = np.array([[W[i][j].grad for j in range(2)] for i in range(2)])
    grad_V = np.array([[V[j][k].grad for k in range(2)] for j in range(2)])

    from tinygrad_mlp.utils import draw_graph

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "backprop_2-2-2.png")
    draw_graph(loss, to_file=path)
    print(f"every value and gradient of this network, drawn: {path}")
    page = backprop.step_through(loss, to_file=os.path.join(out_dir, "backprop_2-2-2.html"))
    print(f"the forward and backward passes node by node, to step through offline: {page}")
    return grad_W, grad_V


def by_keras(ex) -> float:
    """One step of Sequential + SGD(0.1): the kernels move as by hand; the biases move too."""
    from tinygrad_mlp.layers import Dense
    from tinygrad_mlp.models import Sequential
    from tinygrad_mlp.optimizers import SGD

    model = Sequential(
        [Dense(2, activation="sigmoid", input_dim=2), Dense(2, activation="sigmoid")]
    )
    model.set_weights(ex.weights)
    # Keras' mean squared error averages over the 2 outputs: exactly 1/2 sum (y_hat - y)^2
    model.compile(loss="mse", optimizer=SGD(ex.learning_rate))
    x, y = ex.x[None, :], ex.y[None, :]
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=1, batch_size=1, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    hidden_kernel, hidden_bias, output_kernel, output_bias = (
        np.round(w.astype(np.float64), 4).tolist() for w in model.get_weights()
    )
    print(
        "the Keras route: Sequential([Dense(2, 'sigmoid'), Dense(2, 'sigmoid')]), SGD(0.1), 'mse'"
    )
    print(f"  output kernel after one step: {output_kernel}")
    print(f"  hidden kernel after one step: {hidden_kernel}")
    print(f"  biases (trained too): {hidden_bias}, {output_bias}")
    print(f"  L: {before:.4f} -> {after:.4f} (lower than with fixed biases: they learn as well)")
    return after


def main(out_dir: str = "out", quick: bool = False) -> tuple[float, float]:
    ex = course_example()
    print("the course's worked example: x = (1, 0), y = (0.7, 0), every bias 1, lr 0.1")
    print(f"input -> hidden kernel {ex.hidden_kernel.tolist()}")
    print(f"hidden -> output kernel {ex.output_kernel.tolist()}")
    figures = by_hand(ex)
    print_by_hand(ex, figures)

    grad_W, grad_V = by_engine(ex, out_dir)
    lr = ex.learning_rate
    np.testing.assert_allclose(ex.output_kernel - lr * grad_V, figures["new_V"], rtol=1e-12)
    np.testing.assert_allclose(ex.hidden_kernel - lr * grad_W, figures["new_W"], rtol=1e-12)
    print("the engine's dL/dw, through backward(), give the same new weights as the rules by hand")
    by_keras(ex)
    return figures["loss"], figures["loss2"]


if __name__ == "__main__":
    main(*sys.argv[1:2])
