"""The engine's speed at two git revisions, interleaved repeat by repeat in one process.

    python benchmarks/revisions.py                  # HEAD against the working tree
    python benchmarks/revisions.py --base a0b76c8 --repeats 41

A change to the engine must not slow its per-op overhead. Both versions are
loaded side by side in one process: each is copied into a temporary folder
under its own package name (``tgm_old``, ``tgm_new``; the copy's imports are
renamed to match), so the same Python, the same heap and the same moment
serve both. Every workload then alternates old, new, old, new, ... (best of a
few calls each time), and the table gives the median of the new/old ratios
over the repeats and their spread (10th to 90th percentile): a disturbed
moment on a shared machine moves the spread, not the verdict. (micrograd
stays in ``engine.py``: its reference cycles would load the collector that
both revisions here share.)

Workloads: scalar ``a + b``, ``a * b``, ``a + 1.0``, ``tanh``, ``relu`` (recording
included); micrograd's README MLP training step (``engine.py`` (a)); building
and differentiating a 20,000-node scalar chain; small (32x16) float32 tensor
``add``, ``@``, ``relu`` and a Dense layer's forward + backward; one epoch of
``fit`` on the course's circle MLP (2-16-16-1, SGD, batch 32, 8 steps) as a
``Sequential`` and as a functional ``Model`` (against the old Sequential when
the old revision has no functional API).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from common import machine_line  # noqa: E402
from engine import MLP, make_step  # noqa: E402


def _renamed_copy(files: dict[str, bytes], name: str, into: Path) -> None:
    """Write the package's files under ``into/name`` with ``tinygrad_mlp`` renamed."""
    for path, data in files.items():
        target = into / name / Path(path).relative_to("tinygrad_mlp")
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".py"):
            data = re.sub(rb"\btinygrad_mlp\b", name.encode(), data)
        target.write_bytes(data)


def _files_at(rev: str | None) -> dict[str, bytes]:
    if rev is None:  # the working tree
        return {
            str(p.relative_to(ROOT)): p.read_bytes()
            for p in (ROOT / "tinygrad_mlp").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "tinygrad_mlp"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _circle_fit(pkg: str, functional: bool) -> Callable[[], None]:
    """One epoch of the course's circle MLP 2-16-16-1 (SGD, batch 32, 256 samples)."""
    layers = importlib.import_module(f"{pkg}.layers")
    models = importlib.import_module(f"{pkg}.models")
    optimizers = importlib.import_module(f"{pkg}.optimizers")
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    y = ((x**2).sum(axis=1, keepdims=True) < 0.5).astype(np.float32)
    if functional and hasattr(models, "Model"):
        inp = layers.Input((2,))
        h = layers.Dense(16, activation="tanh")(inp)
        h = layers.Dense(16, activation="tanh")(h)
        model = models.Model(inp, layers.Dense(1, activation="sigmoid")(h))
    else:
        model = models.Sequential([layers.Dense(16, input_dim=2, activation="tanh"),
                                   layers.Dense(16, activation="tanh"),
                                   layers.Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile(optimizer=optimizers.SGD(0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    start = [np.asarray(rng.standard_normal(w.data.shape) * 0.3, np.float32) for w in model.weights]
    model.set_weights(start)

    def run() -> None:
        model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)

    run.calls = 1  # type: ignore[attr-defined]
    return run


def _digits_fit(pkg: str) -> Callable[[], None]:
    """One epoch of a digits-shaped MLP 64-128-64-10 (ReLU, softmax, sparse cross-entropy,
    Adam, batch 64, 1,024 samples): the small-batch step of train.py's (b)."""
    layers = importlib.import_module(f"{pkg}.layers")
    models = importlib.import_module(f"{pkg}.models")
    optimizers = importlib.import_module(f"{pkg}.optimizers")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1024, 64)).astype(np.float32)
    y = rng.integers(0, 10, 1024)
    model = models.Sequential([layers.Dense(128, input_dim=64, activation="relu"),
                               layers.Dense(64, activation="relu"),
                               layers.Dense(10, activation="softmax")])  # fmt: skip
    model.compile(optimizer=optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")

    def run() -> None:
        model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)

    run.calls = 1  # type: ignore[attr-defined]
    return run


def _workloads(value_cls: type, pkg: str) -> dict[str, Callable[[], object]]:
    """name -> a zero-argument call to time, built on one engine's Value."""
    a, b = value_cls(1.5), value_cls(2.5)
    model = MLP(value_cls, 3, [4, 4, 1])
    step = make_step(model, model.parameters(), 0.0)

    def chain() -> None:
        y = value_cls(1.0)
        for _ in range(20000):
            y = y * 1.0000001
        y.backward()

    rng = np.random.default_rng(0)
    x = value_cls(rng.standard_normal((32, 16)).astype(np.float32))
    w = value_cls(rng.standard_normal((16, 16)).astype(np.float32))
    bias = value_cls(np.zeros(16, np.float32))

    def dense() -> None:
        w.grad = None
        bias.grad = None
        ((x @ w + bias).relu()).sum().backward()

    def times(fn: Callable[[], object], n: int) -> Callable[[], None]:
        def run() -> None:
            for _ in range(n):
                fn()

        run.calls = n  # type: ignore[attr-defined]
        return run

    return {
        "a + b": times(lambda: a + b, 2000),
        "a * b": times(lambda: a * b, 2000),
        "a + 1.0": times(lambda: a + 1.0, 2000),
        "a.tanh()": times(lambda: a.tanh(), 2000),
        "a.relu()": times(lambda: a.relu(), 2000),
        "micrograd MLP step": times(step, 10),
        "chain 20k: build + backward": times(chain, 1),
        "tensor add 32x16": times(lambda: x + x, 500),
        "tensor @ 32x16": times(lambda: x @ w, 500),
        "tensor relu 32x16": times(lambda: x.relu(), 500),
        "Dense fwd+bwd 32x16": times(dense, 100),
        "fit circle MLP: Sequential": _circle_fit(pkg, functional=False),
        # the old revision has no functional API: its Sequential is the reference
        "fit circle MLP: functional": _circle_fit(pkg, functional=True),
        "fit digits MLP, Adam": _digits_fit(pkg),
    }


def _seconds(run: Callable[[], None], best_of: int = 3) -> float:
    best = float("inf")
    for _ in range(best_of):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / run.calls  # type: ignore[attr-defined]


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the old revision (default HEAD)")
    parser.add_argument("--new", default=None, help="the new revision (default: working tree)")
    parser.add_argument("--repeats", type=int, default=31)
    args = parser.parse_args(argv)
    gc.enable()  # as users run code: micrograd's reference cycles cost it collections
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        _renamed_copy(_files_at(args.base), "tgm_old", Path(tmp))
        _renamed_copy(_files_at(args.new), "tgm_new", Path(tmp))
        sys.path.insert(0, tmp)
        old = importlib.import_module("tgm_old.engine").Value
        new = importlib.import_module("tgm_new.engine").Value
        importlib.import_module("tgm_old")
        importlib.import_module("tgm_new")
        engines = {"old": _workloads(old, "tgm_old"), "new": _workloads(new, "tgm_new")}
        times: dict[str, dict[str, list[float]]] = {e: {} for e in engines}
        for r in range(args.repeats):
            for key in engines["old"]:
                for e in ("old", "new") if r % 2 else ("new", "old"):
                    times[e].setdefault(key, []).append(_seconds(engines[e][key]))
    new_name = args.new or "working tree"
    print(f"{new_name} against {args.base}: {args.repeats} interleaved repeats, one process\n")
    header = (
        f"{'workload':30} {'old us':>9} {'new us':>9} {'new/old median':>15} "
        f"{'spread (p10-p90)':>17}"
    )
    print(header)
    print("-" * len(header))
    for key in engines["old"]:
        ratios = [n / o for o, n in zip(times["old"][key], times["new"][key], strict=True)]
        print(
            f"{key:30} {statistics.median(times['old'][key]) * 1e6:9.3f} "
            f"{statistics.median(times['new'][key]) * 1e6:9.3f} {statistics.median(ratios):15.3f} "
            f"{_percentile(ratios, 0.1):8.3f}-{_percentile(ratios, 0.9):.3f}"
        )


if __name__ == "__main__":
    main()
