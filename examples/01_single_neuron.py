"""Exercise 1 — one artificial neuron: a = g(b + sum_k x_k * w_k).

The exercise is the module ``tinygrad_mlp/course/ex01_single_neuron.py``,
installed with the package (so ``python -m tinygrad_mlp demo`` runs it from
any install): read it there. This script runs it, writing its pictures to the
folder given (``out/`` by default).
"""

import sys

from tinygrad_mlp.course.ex01_single_neuron import main

if __name__ == "__main__":
    main(*sys.argv[1:2])
