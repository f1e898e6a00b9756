"""The course demo (grows as the library grows)."""

from __future__ import annotations

import os

from tinygrad_mlp.engine import Value


def run_demo(out_dir: str = "tinygrad_mlp_demo", quick: bool = False) -> None:
    """Exercise 1: one neuron, a_i = g(b_i + sum_k a_k w_k,i), forward and backward."""
    os.makedirs(out_dir, exist_ok=True)
    x1, x2 = Value(1.0, requires_grad=False, label="x1"), Value(0.0, requires_grad=False, label="x2")
    w1, w2, b = Value(0.5, label="w1"), Value(0.5, label="w2"), Value(1.0, label="b")
    a = (x1 * w1 + x2 * w2 + b).sigmoid()
    a.label = "a"
    a.backward()
    print(f"one neuron: sigmoid(1*0.5 + 0*0.5 + 1) = {a.data:.4f}")
    print(f"gradients: da/dw1 = {w1.grad:.4f}, da/dw2 = {w2.grad:.4f}, da/db = {b.grad:.4f}")
