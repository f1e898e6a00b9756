"""Exercise 3 — a perceptron from scratch (no hidden layer).

250 random points in [0,100]^2, class 1 when x + y >= 100. Normalise the
inputs (mean/std), predict p = sigmoid(x . w + b), and descend the gradient of
the cross-entropy error, recording the error at each step. Stop when the error
improves by less than a tolerance. Then measure accuracy on fresh points.
"""

import os
import sys

import numpy as np

from tinygrad_mlp import Value
from tinygrad_mlp.datasets import linear
from tinygrad_mlp.preprocessing import StandardScaler


def train_perceptron(x, y, learning_rate=0.5, max_steps=2000, tol=1e-5, verbose=True):
    """Full-batch gradient descent on one sigmoid neuron; returns (w, b, errors)."""
    X = Value(x, requires_grad=False)
    w = Value(np.zeros(x.shape[1]), label="w")
    b = Value(0.0, label="b")
    errors = []
    for step in range(max_steps):
        p = (X @ w + b).sigmoid().clip(1e-7, 1 - 1e-7)
        error = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
        errors.append(error.item())
        w.grad, b.grad = None, 0.0
        error.backward()
        w.data -= learning_rate * w.grad
        b.data -= learning_rate * b.grad
        if step > 0 and errors[-2] - errors[-1] < tol:  # the stopping criterion
            break
    if verbose:
        print(f"stopped after {len(errors)} steps, error {errors[0]:.4f} -> {errors[-1]:.4f}")
    return w.data, b.data, errors


def accuracy(w, b, x, y):
    return float((((x @ w + b) > 0).astype(float) == y).mean())


def main(out_dir: str = "out", quick: bool = False) -> float:
    x, y = linear(n=250, seed=0)
    scaler = StandardScaler().fit(x)
    w, b, errors = train_perceptron(scaler.transform(x), y, max_steps=300 if quick else 2000)
    print(f"weights {np.round(w, 3)}, bias {b:.3f}")
    print(f"training accuracy: {accuracy(w, b, scaler.transform(x), y):.3f}")

    x_new, y_new = linear(n=1000, seed=1)  # fresh points, same rule
    acc = accuracy(w, b, scaler.transform(x_new), y_new)
    print(f"accuracy on 1000 fresh points: {acc:.3f}")

    try:
        from tinygrad_mlp.plotting import plot_history

        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "perceptron_error.png")
        plot_history({"loss": errors}, to_file=path)
        print(f"error at each step: {path}")
    except ImportError as exc:
        print(f"(no plot: {exc})")
    return acc


if __name__ == "__main__":
    main(*sys.argv[1:2])
