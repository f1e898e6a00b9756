"""Speed of the autograd engine against micrograd and against raw NumPy.

Run from the repository root::

    python benchmarks/engine.py            # full run (about a minute)
    python benchmarks/engine.py --quick    # fewer repeats

Workloads (all in one run, best-of-N wall time after warm-up):

(a) micrograd's MLP example: ``MLP(3, [4, 4, 1])`` (ReLU hidden, linear out) on
    its 4 samples, one training step = forward on the 4 samples, squared-error
    loss, zero_grad, backward, SGD update. The same Python model code runs on
    each engine's ``Value``, so only the engine differs; ``tinygrad_mlp.nn.MLP``
    is timed too when it exists. Each timed repeat runs hundreds of steps, so
    the garbage collection micrograd's reference cycles cause is counted.
(b) a long chain ``y = y * c`` of 250k, 500k and 1M scalar nodes: build and
    backward time, microseconds per node (linear time shows as a flat column).
(c) per-op overhead of scalar ``+ * tanh relu`` (recording included).
(d) tensor op overhead against the same NumPy calls on small (32x16) and
    medium (256x256) arrays, and forward + backward of a Dense layer against a
    hand-written NumPy forward + backward.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    best_of,
    ensure_repo_on_path,
    interleaved_best,
    machine_line,
    optional_import,
    ratio_text,
    table,
)

ensure_repo_on_path()

import numpy as np  # noqa: E402

from tinygrad_mlp import engine as tg_engine  # noqa: E402
from tinygrad_mlp.engine import Value as TValue  # noqa: E402

# ----------------------------------------------------------------------------
# (a) micrograd's MLP, written once and run on any engine's Value


XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


class Neuron:
    """micrograd's Neuron: ``relu(b + sum w_i x_i)`` (linear for the output layer)."""

    def __init__(self, value_cls: type, nin: int, nonlin: bool, rng: random.Random) -> None:
        self.w = [value_cls(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = value_cls(0.0)
        self.nonlin = nonlin

    def __call__(self, x: list) -> object:
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list:
        return self.w + [self.b]


class MLP:
    """micrograd's MLP: a list of fully connected layers of Neurons."""

    def __init__(self, value_cls: type, nin: int, nouts: list[int], seed: int = 0) -> None:
        rng = random.Random(seed)
        sizes = [nin] + nouts
        self.layers = [
            [Neuron(value_cls, sizes[i], i != len(nouts) - 1, rng) for _ in range(sizes[i + 1])]
            for i in range(len(nouts))
        ]

    def __call__(self, x: list) -> object:
        for layer in self.layers:
            out = [n(x) for n in layer]
            x = out[0] if len(out) == 1 else out
        return x

    def parameters(self) -> list:
        return [p for layer in self.layers for n in layer for p in n.parameters()]


def make_step(model: object, params: list, zero: float, lr: float = 0.05):
    """One micrograd-style training step on the 4 samples; returns the loss value."""

    def step() -> float:
        ypred = [model(x) for x in XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred, strict=True))
        for p in params:
            p.grad = zero
        loss.backward()
        for p in params:
            p.data += -lr * p.grad
        return loss.data

    return step


def bench_mlp(repeat: int, number: int) -> list[list]:
    rows = []
    micrograd = optional_import("micrograd.engine")
    engines = [("tinygrad_mlp.Value", TValue)]
    if micrograd is not None:
        engines.append(("micrograd.Value", micrograd.Value))
    steps = {}
    for name, cls in engines:
        model = MLP(cls, 3, [4, 4, 1])
        steps[name] = make_step(model, model.parameters(), 0.0 if cls is TValue else 0)
    try:
        from tinygrad_mlp import nn as tg_nn

        model = tg_nn.MLP(3, [4, 4, 1])
        steps["tinygrad_mlp.nn.MLP"] = make_step(model, model.parameters(), 0.0)
    except (ImportError, AttributeError, TypeError) as exc:
        print(f"[skip] tinygrad_mlp.nn.MLP not usable yet ({exc.__class__.__name__}: {exc})")
    if micrograd is not None:  # micrograd's own nn module, to show the shared model code is fair
        from micrograd import nn as mg_nn

        random.seed(0)
        model = mg_nn.MLP(3, [4, 4, 1])
        steps["micrograd.nn.MLP"] = make_step(model, model.parameters(), 0)
    # all four in turn, round by round: a noisy moment on a shared machine hits each alike
    times = interleaved_best(steps, repeat=repeat, number=number, warmup=number)
    # where the time goes: micrograd's closures make reference cycles, so the
    # cyclic garbage collector has to free every graph; ours leave none
    for name, cls in engines:
        model = MLP(cls, 3, [4, 4, 1])
        step = make_step(model, model.parameters(), 0.0 if cls is TValue else 0)
        gc.disable()
        try:
            t = best_of(step, repeat=repeat, number=number, warmup=number)
        finally:
            gc.enable()
            gc.collect()
        times[f"({name}, gc disabled)"] = t
    ref = times.get("micrograd.Value")
    for name, t in times.items():
        ours = name.startswith("tinygrad_mlp")
        note = ratio_text(t, ref, "micrograd") if ref and ours else ""
        if name.endswith("gc disabled)"):
            with_gc = times[name[1:].split(",")[0]]
            note = f"{max(0.0, 1 - t / with_gc):.0%} of the step is garbage collection"
        rows.append([name, t * 1e3, 1.0 / t, note])
    return rows


# ----------------------------------------------------------------------------
# (b) a long chain


def chain(n: int) -> tuple[float, float]:
    """Seconds to build and to differentiate ``y = y * c`` repeated n times."""
    x = TValue(1.0)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 0.9999999
    built = time.perf_counter()
    y.backward()
    done = time.perf_counter()
    assert abs(x.grad - 0.9999999**n) < 1e-6, x.grad
    return built - start, done - built


def bench_chain(sizes: list[int], repeat: int) -> list[list]:
    rows = []
    for n in sizes:
        best_build = best_back = best_build_nogc = float("inf")
        for _ in range(repeat):
            b, k = chain(n)
            best_build, best_back = min(best_build, b), min(best_back, k)
            gc.collect()
        gc.disable()  # how much of building is the collector scanning the live graph
        try:
            best_build_nogc = chain(n)[0]
        finally:
            gc.enable()
            gc.collect()
        rows.append(
            [
                f"{n:,}",
                best_build,
                best_back,
                best_build / n * 1e6,
                best_back / n * 1e6,
                best_build_nogc / n * 1e6,
            ]
        )
    return rows


# ----------------------------------------------------------------------------
# (c) per-op overhead of scalar operations


def bench_scalar_ops(repeat: int, number: int) -> list[list]:
    micrograd = optional_import("micrograd.engine")
    engines = [("tinygrad_mlp", TValue)]
    if micrograd is not None:
        engines.append(("micrograd", micrograd.Value))
    ops = {
        "a + b": lambda a, b: a + b,
        "a * b": lambda a, b: a * b,
        "a + 1.0": lambda a, b: a + 1.0,
        "a.tanh()": lambda a, b: a.tanh(),
        "a.relu()": lambda a, b: a.relu(),
    }
    rows = []
    n = 1000
    for op_name, op in ops.items():
        t = {}
        for name, cls in engines:
            a, b = cls(0.5), cls(-1.5)
            try:
                op(a, b)
            except AttributeError:  # micrograd has no tanh
                continue

            def run(op=op, a=a, b=b) -> None:
                for _ in range(n):
                    op(a, b)

            t[name] = best_of(run, repeat=repeat, number=number) / n
        ours, theirs = t["tinygrad_mlp"], t.get("micrograd")
        rows.append(
            [
                op_name,
                ours * 1e6,
                theirs * 1e6 if theirs else "-",
                ratio_text(ours, theirs, "micrograd") if theirs else "",
            ]
        )
    return rows


# ----------------------------------------------------------------------------
# (d) tensor op overhead against NumPy


def bench_tensor_ops(repeat: int) -> list[list]:
    rows = []
    for size_name, dims in {"small": (32, 16, 16), "medium": (256, 256, 256)}.items():
        rows += _tensor_rows(size_name, dims, repeat)
    return rows


def _tensor_rows(size_name: str, dims: tuple[int, int, int], repeat: int) -> list[list]:
    m, k, n = dims
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k)).astype(np.float32)
    y = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = np.zeros(n, np.float32)
    vx, vy, vw = TValue(x), TValue(y), TValue(w)
    xin = TValue(x, requires_grad=False)
    kernel, vbias = TValue(w), TValue(bias)

    def dense_ours() -> None:
        kernel.grad = vbias.grad = None
        (xin @ kernel + vbias).relu().sum().backward()

    def dense_numpy() -> None:
        z = x @ w + bias
        a = np.maximum(z, 0)
        a.sum()
        g = (z > 0).astype(np.float32)
        x.T @ g
        g.sum(axis=0)

    cases = {
        "add": (lambda: vx + vy, lambda: x + y),
        "matmul": (lambda: vx @ vw, lambda: x @ w),
        "relu": (lambda: vx.relu(), lambda: np.maximum(x, 0)),
        "sum": (lambda: vx.sum(), lambda: x.sum()),
        "Dense fwd+bwd": (dense_ours, dense_numpy),
    }
    number = 2000 if size_name == "small" else 100
    rows = []
    for op_name, (ours_fn, np_fn) in cases.items():
        num = number // 4 if op_name == "Dense fwd+bwd" else number
        ours = best_of(ours_fn, repeat=repeat, number=num)
        ref = best_of(np_fn, repeat=repeat, number=num)
        rows.append(
            [
                f"{op_name} ({size_name} {m}x{k})",
                ours * 1e6,
                ref * 1e6,
                (ours - ref) * 1e6,
                f"{ours / ref:.2f}x NumPy's time",
            ]
        )
    return rows


# ----------------------------------------------------------------------------
# garbage: a training step must leave no reference cycles behind


def check_no_cycles() -> str:
    model = MLP(TValue, 3, [4, 4, 1])
    step = make_step(model, model.parameters(), 0.0)
    gc.collect()
    step()
    found = gc.collect()
    return f"objects freed by gc.collect() after a step: {found} (0 means no reference cycles)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    args = parser.parse_args(argv)
    quick = args.quick
    repeat = 3 if quick else 7

    print(f"tinygrad_mlp engine benchmark ({'quick' if quick else 'full'})")
    print(machine_line())
    print()
    print("(a) micrograd's MLP(3, [4, 4, 1]) on its 4 samples: one training step")
    rows = bench_mlp(repeat, 100 if quick else 300)
    print(table(["engine", "ms/step", "steps/s", "ratio"], rows))
    print(check_no_cycles())
    print()
    print("(b) a chain y = y * c of scalar Values: build and backward")
    sizes = [250_000, 500_000] if quick else [250_000, 500_000, 1_000_000]
    rows = bench_chain(sizes, 1 if quick else 3)
    headers = ["nodes", "build s", "backward s", "build us/node", "backward us/node"]
    print(table(headers + ["build us/node, gc off"], rows))
    print(
        "(backward is linear; building a large live graph also pays CPython's cyclic\n"
        " collector scanning the growing heap, though the graph holds no cycles;\n"
        " micrograd's recursive topological sort cannot run these: RecursionError)"
    )
    print()
    print("(c) scalar op overhead (create the result and record the graph)")
    rows = bench_scalar_ops(repeat, 5 if quick else 20)
    print(table(["op", "tinygrad_mlp us", "micrograd us", "ratio"], rows))
    print()
    print("(d) tensor op overhead against NumPy (float32)")
    rows = bench_tensor_ops(repeat)
    print(table(["op", "tinygrad_mlp us", "NumPy us", "overhead us", "ratio"], rows))
    if optional_import("mygrad") is not None:
        print("(mygrad is installed but not measured yet)")
    _ = tg_engine


if __name__ == "__main__":
    main()
