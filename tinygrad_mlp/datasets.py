"""The course's data sets, and small real ones from scikit-learn when it is installed.

Every generator takes ``seed``: ``None`` draws fresh random numbers, an integer
(or a ``numpy.random.Generator``) makes the data reproducible. They return
``(x, y)`` as float32 arrays, ``x`` of shape ``(n, features)`` and ``y`` of
shape ``(n,)`` (a 1-D target, which ``fit`` accepts for single-output models).

=================  ======================================================
``linear``         points in [0,100]^2, class 1 when ``x + y >= 100``
``circle``         points in [-1,1]^2, class 1 inside ``x^2 + y^2 < r^2``
``xor``            the 4 XOR points
``xor_blobs``      noisy clouds around the 4 XOR points
``noisy_function`` 1-D regression: ``y = sin(x) + noise``
``spiral``         two (or more) interleaved spirals
``moons``          two interleaving half circles
``multi_label``    the course's program: 10 inputs, 4 yes/no outputs
=================  ======================================================

Real data (``pip install "tinygrad_mlp[data]"`` for scikit-learn, which ships
them; no download): ``load_iris``, ``load_digits``, ``load_breast_cancer``,
``load_diabetes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "CourseExample",
    "course_example",
    "linear",
    "circle",
    "xor",
    "xor_blobs",
    "noisy_function",
    "spiral",
    "moons",
    "multi_label",
    "load_iris",
    "load_digits",
    "load_breast_cancer",
    "load_diabetes",
]

Seed = int | np.random.Generator | None


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be None, an int or a numpy Generator, received {seed!r}")
    return np.random.default_rng(seed)


def _check_n(n: Any, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"n must be an integer >= {minimum}, received {n!r}")
    return int(n)


def _check_noise(noise: Any) -> float:
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, received {noise!r}")
    return float(noise)


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.astype(np.float32), y.astype(np.float32)


# ----------------------------------------------------------------------------
# the course's generators


def linear(
    n: int = 250,
    seed: Seed = None,
    threshold: float = 100.0,
    positive: str = "above",
    low: float = 0.0,
    high: float = 100.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in ``[low, high]^2`` split by the line ``x + y = threshold``.

    The course states the rule both ways, so both are available:
    ``positive='above'`` (default, the perceptron exercise): class 1 when
    ``x + y >= threshold``; ``positive='below'``: class 1 when ``x + y < threshold``.
    With the defaults (``[0,100]^2``, threshold 100) the classes are balanced.
    A single sigmoid neuron separates them (after standardising the inputs).

    Returns ``x`` of shape ``(n, 2)`` and ``y`` of shape ``(n,)`` with values 0/1.
    """
    if positive not in ("above", "below"):
        raise ValueError(f"positive must be 'above' or 'below', received {positive!r}")
    if not high > low:
        raise ValueError(f"linear needs low < high, received low={low}, high={high}")
    n = _check_n(n)
    x = _rng(seed).uniform(low, high, size=(n, 2))
    above = x.sum(axis=1) >= threshold
    return _pair(x, above if positive == "above" else ~above)


def circle(
    n: int = 500,
    radius: float = 0.8,
    center: Sequence[float] = (0.0, 0.0),
    seed: Seed = None,
    low: float = -1.0,
    high: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in ``[low, high]^2``; class 1 inside the circle ``x^2 + y^2 < r^2``.

    With a ``center`` (cx, cy) the rule is ``(x - cx)^2 + (y - cy)^2 < r^2``.
    The defaults (square ``[-1, 1]^2``, radius 0.8, centre 0) put about half of
    the points inside (the disc covers ``pi * 0.8^2 / 4 = 50.3%`` of the square),
    so no class dominates. No straight line separates the classes: a single
    neuron fails, one hidden layer succeeds.

    Returns ``x`` of shape ``(n, 2)`` and ``y`` of shape ``(n,)`` with values 0/1.
    """
    if not radius > 0:
        raise ValueError(f"radius must be > 0, received {radius!r}")
    center_arr = np.asarray(center, dtype=np.float64)
    if center_arr.shape != (2,):
        raise ValueError(f"center must be a pair (cx, cy), received {center!r}")
    if not high > low:
        raise ValueError(f"circle needs low < high, received low={low}, high={high}")
    n = _check_n(n)
    x = _rng(seed).uniform(low, high, size=(n, 2))
    inside = ((x - center_arr) ** 2).sum(axis=1) < radius**2
    return _pair(x, inside)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points: ``(0,0)->0, (0,1)->1, (1,0)->1, (1,1)->0``.

    No line separates them; a network with one hidden layer of two or more
    neurons can. Returns ``x`` of shape ``(4, 2)`` and ``y`` of shape ``(4,)``.
    """
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    return _pair(x, x[:, 0] ^ x[:, 1])


class CourseExample(NamedTuple):
    """The course's worked back-propagation example (a 2-2-2 sigmoid network).

    Kernels are Keras' layout: row = input unit, column = the unit it feeds.
    ``weights`` lists them in ``model.get_weights()`` order, so
    ``model.set_weights(example.weights)`` loads the network into a
    ``Sequential([Dense(2, "sigmoid", input_dim=2), Dense(2, "sigmoid")])``.
    """

    x: np.ndarray  # inputs, shape (2,)
    y: np.ndarray  # targets, shape (2,)
    hidden_kernel: np.ndarray  # input -> hidden, shape (2, 2)
    hidden_bias: np.ndarray  # shape (2,)
    output_kernel: np.ndarray  # hidden -> output, shape (2, 2)
    output_bias: np.ndarray  # shape (2,)
    learning_rate: float

    @property
    def weights(self) -> list[np.ndarray]:
        """[hidden kernel, hidden bias, output kernel, output bias], copies."""
        return [
            a.copy()
            for a in (self.hidden_kernel, self.hidden_bias, self.output_kernel, self.output_bias)
        ]


def course_example() -> CourseExample:
    """The course's own worked example of back propagation, exactly as its slides give it.

    Inputs ``x = (1, 0)``, targets ``y = (0.7, 0)``, every bias 1, loss
    ``L = 1/2 sum (y_hat - y)^2``, learning rate 0.1; input -> hidden kernel
    ``[[0.5, 0.5], [0.0, 1.0]]``, hidden -> output kernel ``[[0.5, 0.5], [1.0, 0.5]]``.
    The slides find hidden activations 0.82, outputs 0.90 and 0.86, L = 0.39,
    and after one step (biases held fixed) L = 0.388.

    >>> ex = course_example()
    >>> ex.x, ex.y
    (array([1., 0.]), array([0.7, 0. ]))
    """
    return CourseExample(
        x=np.array([1.0, 0.0]),
        y=np.array([0.7, 0.0]),
        hidden_kernel=np.array([[0.5, 0.5], [0.0, 1.0]]),
        hidden_bias=np.ones(2),
        output_kernel=np.array([[0.5, 0.5], [1.0, 0.5]]),
        output_bias=np.ones(2),
        learning_rate=0.1,
    )


def xor_blobs(
    n: int = 200, noise: float = 0.15, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clouds (std ``noise``) around the four XOR corners, labelled by XOR.

    Points are dealt to the corners in turn, so each corner gets ``n/4`` (within
    one) and the classes are balanced. Returns ``x`` ``(n, 2)``, ``y`` ``(n,)``.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    corners, labels = xor()
    which = np.arange(n) % 4
    rng = _rng(seed)
    rng.shuffle(which)
    x = corners[which].astype(np.float64) + rng.normal(0.0, noise, size=(n, 2))
    return _pair(x, labels[which])


def noisy_function(
    n: int = 200,
    noise: float = 0.1,
    seed: Seed = None,
    function: Callable[[np.ndarray], np.ndarray] = np.sin,
    low: float = -np.pi,
    high: float = np.pi,
) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D regression set: ``y = function(x) + N(0, noise^2)``, ``x`` uniform in [low, high].

    The default is one period of ``sin``. Returns ``x`` of shape ``(n, 1)`` and
    ``y`` of shape ``(n,)``; ``x`` is not sorted (sort it to plot a curve).
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    if not high > low:
        raise ValueError(f"noisy_function needs low < high, received low={low}, high={high}")
    rng = _rng(seed)
    x = rng.uniform(low, high, size=(n, 1))
    y = np.asarray(function(x[:, 0]), dtype=np.float64).reshape(n)
    return _pair(x, y + rng.normal(0.0, noise, size=n))


def spiral(
    n: int = 300, classes: int = 2, noise: float = 0.2, turns: float = 1.0, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms in the plane, labelled 0..classes-1.

    Arm ``k`` runs from the centre outwards at angle ``theta + 2*pi*k/classes``;
    ``noise`` jitters the angle. A hard problem for shallow networks.
    Returns ``x`` ``(n, 2)`` and ``y`` ``(n,)`` (float32 class indices).
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an integer >= 2, received {classes!r}")
    rng = _rng(seed)
    label = np.arange(n) % classes
    radius = rng.uniform(0.05, 1.0, size=n)
    theta = radius * turns * 2 * np.pi + 2 * np.pi * label / classes + rng.normal(0, noise, size=n)
    x = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    return _pair(x, label)


def moons(n: int = 200, noise: float = 0.1, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below), plus Gaussian noise.

    Returns ``x`` ``(n, 2)`` and ``y`` ``(n,)`` with values 0/1, classes balanced.
    """
    n = _check_n(n)
    noise = _check_noise(noise)
    rng = _rng(seed)
    label = np.arange(n) % 2
    angle = rng.uniform(0, np.pi, size=n)
    x = np.where(
        label[:, None] == 0,
        np.stack([np.cos(angle), np.sin(angle)], axis=1),
        np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], axis=1),
    )
    return _pair(x + rng.normal(0, noise, size=(n, 2)), label)


def multi_label(n: int = 1000, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """The course's Keras program's data: 10 inputs uniform in ``[0, 1]``, 4 yes/no outputs.

    Each output is a rule a small network can learn from the inputs ``x0..x9``:
    ``x0 + x1 > 1``, ``x2 > x3``, ``x4 + x5 + x6 > 1.5``, ``x7 > 0.5`` (``x8``, ``x9``
    are noise). By symmetry each rule holds for half the points on average.

    Returns ``x`` of shape ``(n, 10)`` and ``y`` of shape ``(n, 4)`` with values 0/1,
    for ``Dense(4, activation='sigmoid')`` and ``binary_crossentropy``.

    >>> x, y = multi_label(n=5, seed=0)
    >>> x.shape, y.shape
    ((5, 10), (5, 4))
    """
    n = _check_n(n)
    x = _rng(seed).uniform(size=(n, 10))
    y = np.stack(
        [
            x[:, 0] + x[:, 1] > 1.0,
            x[:, 2] > x[:, 3],
            x[:, 4:7].sum(axis=1) > 1.5,
            x[:, 7] > 0.5,
        ],
        axis=1,
    )
    return _pair(x, y)


# ----------------------------------------------------------------------------
# small real data sets, bundled with scikit-learn


def _sklearn_datasets() -> Any:
    try:
        from sklearn import datasets
    except ImportError as error:
        raise ImportError(
            "The real data sets are read from scikit-learn, which is not installed; "
            'install it with: pip install "tinygrad_mlp[data]"  (or pip install scikit-learn)'
        ) from error
    return datasets


def _load(
    name: str, return_names: bool, target_dtype: Any
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, list[str], list[str] | None]:
    bunch = getattr(_sklearn_datasets(), name)()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target).astype(target_dtype)
    if not return_names:
        return x, y
    feature_names = [str(f) for f in getattr(bunch, "feature_names", range(x.shape[1]))]
    target_names = getattr(bunch, "target_names", None)
    if target_names is not None:
        target_names = [str(t) for t in target_names]
    return x, y, feature_names, target_names


def load_iris(return_names: bool = False) -> tuple:
    """Fisher's iris: 150 flowers, 4 measurements (cm), 3 species (labels 0, 1, 2).

    Returns ``(x, y)``: ``x`` float32 ``(150, 4)``, ``y`` int64 ``(150,)``; with
    ``return_names=True``, ``(x, y, feature_names, target_names)``.
    Needs scikit-learn (the data ships inside it; nothing is downloaded).
    """
    return _load("load_iris", return_names, np.int64)


def load_digits(return_names: bool = False) -> tuple:
    """Handwritten digits: 1797 images of 8x8 pixels (values 0..16), labels 0..9.

    Returns ``x`` float32 ``(1797, 64)`` (divide by 16 to get [0, 1]) and ``y``
    int64 ``(1797,)``; with ``return_names=True`` also the pixel and class names.
    """
    return _load("load_digits", return_names, np.int64)


def load_breast_cancer(return_names: bool = False) -> tuple:
    """Wisconsin breast cancer: 569 tumours, 30 features, 0 = malignant, 1 = benign.

    Returns ``x`` float32 ``(569, 30)`` (features on very different scales:
    standardise them) and ``y`` int64 ``(569,)``; ``return_names=True`` adds names.
    """
    return _load("load_breast_cancer", return_names, np.int64)


def load_diabetes(return_names: bool = False) -> tuple:
    """Diabetes progression (regression): 442 patients, 10 standardised features.

    Returns ``x`` float32 ``(442, 10)`` and ``y`` float32 ``(442,)`` (a disease
    measure one year later, 25..346); with ``return_names=True``
    ``(x, y, feature_names, None)``.
    """
    return _load("load_diabetes", return_names, np.float32)
