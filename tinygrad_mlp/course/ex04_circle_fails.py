"""Exercise 4 — the same perceptron on a circular boundary fails.

Points are class 1 inside a circle (x^2 + y^2 < r^2). A single neuron computes
sigmoid(w . x + b): its decision boundary w . x + b = 0 is a straight line, and
no line separates the inside of a circle from the outside. XOR fails for the
same reason: its classes sit on opposite corners of a square.
"""

import os
import sys

from tinygrad_mlp.datasets import circle, xor
from tinygrad_mlp.preprocessing import StandardScaler


def main(out_dir: str = "out", quick: bool = False) -> float:
    from tinygrad_mlp.course import ex03_perceptron_from_scratch as perceptron

    x, y = circle(n=500, seed=0)
    scaler = StandardScaler().fit(x)
    w, b, _ = perceptron.train_perceptron(scaler.transform(x), y, max_steps=300 if quick else 2000)
    acc = perceptron.accuracy(w, b, scaler.transform(x), y)
    majority = max(y.mean(), 1 - y.mean())
    print(
        f"circle: perceptron accuracy {acc:.3f} vs {majority:.3f} for always guessing the majority"
    )
    print("a straight line cannot separate the inside of a circle from the outside")
    import numpy as np

    from tinygrad_mlp.plotting import plot_decision_boundary

    def neuron(points):  # the trained neuron's P(inside) on raw points
        return 1.0 / (1.0 + np.exp(-(scaler.transform(points) @ w + b)))

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "perceptron_on_circle.png")
    plot_decision_boundary(neuron, x, y, to_file=path)
    print(f"the perceptron's straight line on the circle: {path}")

    xx, yx = xor()
    w, b, _ = perceptron.train_perceptron(xx, yx, max_steps=300 if quick else 2000, verbose=False)
    xor_acc = perceptron.accuracy(w, b, xx, yx)
    print(f"XOR: perceptron accuracy {xor_acc:.2f} (a line gets 3 of 4 points at best)")
    return acc


if __name__ == "__main__":
    main(*sys.argv[1:2])
