"""Exercise 8 — the course's Keras program, XOR with a hidden layer, softmax on real data.

The exercise is the module ``tinygrad_mlp/course/ex08_softmax_and_the_course_program.py``,
installed with the package (so ``python -m tinygrad_mlp demo`` runs it from
any install): read it there. This script runs it, writing its pictures to the
folder given (``out/`` by default).
"""

import sys

from tinygrad_mlp.course.ex08_softmax_and_the_course_program import main

if __name__ == "__main__":
    main(*sys.argv[1:2])
