"""Exercise 1 — one artificial neuron: a = g(b + sum_k x_k * w_k).

Inputs (1, 0), both weights 0.5, bias 1, sigmoid activation:
a = sigmoid(1*0.5 + 0*0.5 + 1) = sigmoid(1.5) = 0.8176.
Then back propagation: the graph records every operation, and backward()
fills in da/d(every input) by the chain rule. The picture shows both.
"""

import os
import sys

from tinygrad_mlp import Value


def main(out_dir: str = "out", quick: bool = False) -> float:
    x1 = Value(1.0, requires_grad=False, label="x1")
    x2 = Value(0.0, requires_grad=False, label="x2")
    w1, w2 = Value(0.5, label="w1"), Value(0.5, label="w2")
    b = Value(1.0, label="b")

    z = x1 * w1 + x2 * w2 + b
    z.label = "z"
    a = z.sigmoid()
    a.label = "a"
    print(f"forward:  z = {z.data}, a = sigmoid(z) = {a.data:.4f}")

    a.backward()
    # sigmoid'(z) = a (1 - a); dz/dw_k = x_k; dz/db = 1
    print(f"backward: da/dz = a(1-a) = {a.data * (1 - a.data):.4f}")
    print(f"          da/dw1 = {w1.grad:.4f}  da/dw2 = {w2.grad:.4f}  da/db = {b.grad:.4f}")

    from tinygrad_mlp.utils import draw_graph

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "neuron_graph.png")
    draw_graph(a, to_file=path)
    print(f"the neuron's backprop graph: {path}")

    from tinygrad_mlp.plotting import plot_activations

    path = os.path.join(out_dir, "activations.png")
    plot_activations(to_file=path)
    print(f"activation functions g(z) and their derivatives g'(z) (by backward): {path}")
    return a.data


if __name__ == "__main__":
    main(*sys.argv[1:2])
