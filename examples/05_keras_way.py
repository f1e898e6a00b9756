"""Exercise 5 — the Keras way: the same problems with Sequential and Dense.

The exercise is the module ``tinygrad_mlp/course/ex05_keras_way.py``,
installed with the package (so ``python -m tinygrad_mlp demo`` runs it from
any install): read it there. This script runs it, writing its pictures to the
folder given (``out/`` by default).
"""

import sys

from tinygrad_mlp.course.ex05_keras_way import main

if __name__ == "__main__":
    main(*sys.argv[1:2])
