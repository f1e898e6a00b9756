"""Exercise 2 — back propagation worked by hand, then checked by the engine.

A 2-2-2 sigmoid network, all biases 1 (kept fixed), loss L = 1/2 sum (y_hat - y)^2,
learning rate 0.1.

Output layer (weights v_jk from hidden j to output k):
    delta_k = (y_hat_k - y_k) * y_hat_k * (1 - y_hat_k)
    v_jk <- v_jk - lr * delta_k * h_j
Hidden layer (weights w_ij from input i to hidden j), with the recursive error
    e_j = sum_k delta_k * v_jk
    w_ij <- w_ij - lr * e_j * h_j * (1 - h_j) * x_i
"""

import os
import sys

import numpy as np

from tinygrad_mlp import Value

x = np.array([1.0, 0.5])  # inputs
y = np.array([1.0, 0.0])  # targets
W = np.array([[0.1, 0.3], [0.2, 0.4]])  # W[i, j]: input i -> hidden j
V = np.array([[0.5, 0.7], [0.6, 0.8]])  # V[j, k]: hidden j -> output k
LR = 0.1


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def forward(W, V):
    h = sigmoid(x @ W + 1.0)
    y_hat = sigmoid(h @ V + 1.0)
    return h, y_hat, 0.5 * np.sum((y_hat - y) ** 2)


def main(out_dir: str = "out", quick: bool = False) -> tuple[float, float]:
    h, y_hat, loss = forward(W, V)
    print(f"forward: h = {np.round(h, 4)}, y_hat = {np.round(y_hat, 4)}, L = {loss:.6f}")

    # by hand, with the course's rules
    delta = (y_hat - y) * y_hat * (1 - y_hat)
    e = V @ delta  # e_j = sum_k delta_k v_jk
    grad_V = np.outer(h, delta)
    grad_W = np.outer(x, e * h * (1 - h))
    print("by hand:  dL/dV =", np.round(grad_V, 6).tolist())
    print("          dL/dW =", np.round(grad_W, 6).tolist())

    # the same with the engine, one scalar Value per weight so the graph shows each of them
    w = [[Value(float(W[i, j]), label=f"w{i + 1}{j + 1}") for j in range(2)] for i in range(2)]
    v = [[Value(float(V[j, k]), label=f"v{j + 1}{k + 1}") for k in range(2)] for j in range(2)]
    xs = [Value(float(x[i]), requires_grad=False, label=f"x{i + 1}") for i in range(2)]
    hs = [(xs[0] * w[0][j] + xs[1] * w[1][j] + 1.0).sigmoid() for j in range(2)]
    ys = [(hs[0] * v[0][k] + hs[1] * v[1][k] + 1.0).sigmoid() for k in range(2)]
    for j in range(2):
        hs[j].label, ys[j].label = f"h{j + 1}", f"y_hat{j + 1}"
    L = 0.5 * ((ys[0] - float(y[0])) ** 2 + (ys[1] - float(y[1])) ** 2)
    L.label = "L"
    L.backward()
    engine_V = np.array([[v[j][k].grad for k in range(2)] for j in range(2)])
    engine_W = np.array([[w[i][j].grad for j in range(2)] for i in range(2)])
    print("engine:   dL/dV =", np.round(engine_V, 6).tolist())
    print("          dL/dW =", np.round(engine_W, 6).tolist())
    assert np.allclose(engine_V, grad_V) and np.allclose(engine_W, grad_W)

    from tinygrad_mlp.utils import draw_graph

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "backprop_2-2-2.png")
    draw_graph(L, to_file=path)
    print(f"every value and gradient of this network: {path}")

    W_new, V_new = W - LR * grad_W, V - LR * grad_V
    print("new W =", np.round(W_new, 6).tolist())
    print("new V =", np.round(V_new, 6).tolist())
    _, y_hat2, loss2 = forward(W_new, V_new)
    print(f"forward again: y_hat = {np.round(y_hat2, 4)}, L = {loss2:.6f} (was {loss:.6f})")
    return loss, loss2


if __name__ == "__main__":
    main(*sys.argv[1:2])
