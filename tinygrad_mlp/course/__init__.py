"""The course's exercises, one module each, in the order the course teaches them.

Every module has ``main(out_dir, quick=False)``, which prints what the exercise
shows and writes its pictures to ``out_dir``; ``python -m tinygrad_mlp demo``
runs them in order and ``examples/`` has a script that runs each one.
"""

EXERCISES = (
    "ex01_single_neuron",
    "ex02_backprop_by_hand",
    "ex03_perceptron_from_scratch",
    "ex04_circle_fails",
    "ex05_keras_way",
    "ex06_training_practice",
    "ex07_judging_a_classifier",
    "ex08_softmax_and_the_course_program",
)
