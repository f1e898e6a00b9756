"""Training speed: tinygrad_mlp's ``fit`` against NumPy, PyTorch and scikit-learn.

Run from the repository root::

    python benchmarks/train.py             # full run (under a minute on 2 quiet cores)
    python benchmarks/train.py --quick     # fewer epochs, a smaller (c)
    python benchmarks/train.py --threads 1 # one BLAS/torch thread: steadier on a busy machine

Every implementation trains the same network on the same float32 data with the
same batch size, optimizer and learning rate, shuffling every epoch:

* ``tinygrad_mlp``: ``Sequential`` + ``compile`` + ``fit(verbose=0)``, as a user
  calls it (no metrics, so only the loss is computed per batch, like the floor);
* ``numpy floor``: a hand-written NumPy MLP with a manual backward pass, the
  fastest a NumPy engine can hope to be;
* ``torch``: PyTorch CPU eager (``zero_grad``, forward, loss, ``backward``,
  ``step``, ``loss.item()`` per batch), with its default thread count;
* ``sklearn``: ``MLPClassifier.partial_fit`` (one epoch per call, ``alpha=0``).

Workloads:

(a) 2-16-16-1 tanh/tanh/sigmoid, binary cross-entropy, SGD(0.1, momentum 0.9),
    batch 32, 1,024 points labelled by a circle (the course's data);
(b) 64-128-64-10 relu/relu/softmax on scikit-learn's digits (80/20 split),
    Adam(1e-3), batch 64, with test accuracy;
(c) 784-512-256-10 relu/relu/softmax, SGD(0.01), batch 256, 20,000 synthetic rows.

Each implementation is warmed up with one epoch, then the best of a few timed
runs of several epochs is kept. A memory check then trains (a) for 10,000 steps
and prints the process RSS every 2,000 steps.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _limit_threads_early() -> None:
    """Apply ``--threads N`` before NumPy/BLAS start (they read these variables once)."""
    import os

    for i, arg in enumerate(sys.argv):
        if arg.startswith("--threads"):
            value = arg.split("=", 1)[1] if "=" in arg else sys.argv[i + 1]
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value


_limit_threads_early()
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ensure_repo_on_path, machine_line, optional_import, table  # noqa: E402

ensure_repo_on_path()

import numpy as np  # noqa: E402

F32 = np.float32
SHUFFLE_SEED = 1  # the floor and fit(seed=...) then visit the batches in the same order


# ----------------------------------------------------------------------------
# workloads


class Workload:
    """A network, its data, and its training settings."""

    def __init__(
        self,
        name: str,
        sizes: list[int],
        hidden: str,
        output: str,
        optimizer: str,
        learning_rate: float,
        batch_size: int,
        data: tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None],
        epochs: int,
    ) -> None:
        self.name = name
        self.sizes = sizes
        self.hidden = hidden  # 'tanh' or 'relu'
        self.output = output  # 'sigmoid' (binary) or 'softmax' (integer labels)
        self.optimizer = optimizer  # 'sgd' (momentum 0.9 for sigmoid nets) or 'adam'
        self.momentum = 0.9 if output == "sigmoid" else 0.0
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.x, self.y, self.x_test, self.y_test = data
        self.epochs = epochs
        self.steps = math.ceil(len(self.x) / batch_size)


def circle_data(n: int = 1024, seed: int = 0) -> tuple:
    """Points in [0, 100]^2, class 1 inside a circle of radius 35 around the centre."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 100, size=(n, 2))
    y = ((pts[:, 0] - 50) ** 2 + (pts[:, 1] - 50) ** 2 < 35**2).astype(F32)
    x = ((pts - pts.mean(axis=0)) / pts.std(axis=0)).astype(F32)
    return x, y, None, None


def digits_data(seed: int = 0) -> tuple | None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    d = load_digits()
    x = (d.data / 16.0).astype(F32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def synthetic_data(n: int, seed: int = 0) -> tuple:
    """Rows of 784 features whose class is the argmax of a fixed random projection."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 784)).astype(F32)
    y = (x @ rng.standard_normal((784, 10)).astype(F32)).argmax(axis=1).astype(np.int64)
    return x, y, None, None


def workloads(quick: bool, only: str | None) -> list[Workload]:
    out = []
    if only in (None, "a"):
        out.append(
            Workload(
                "(a) circle 2-16-16-1 tanh/sigmoid, SGD momentum, batch 32",
                [2, 16, 16, 1], "tanh", "sigmoid", "sgd", 0.1, 32, circle_data(),
                5 if quick else 20,
            )
        )  # fmt: skip
    digits = digits_data()
    if only in (None, "b") and digits is not None:
        out.append(
            Workload(
                "(b) digits 64-128-64-10 relu/softmax, Adam, batch 64",
                [64, 128, 64, 10], "relu", "softmax", "adam", 1e-3, 64, digits,
                5 if quick else 10,
            )
        )  # fmt: skip
    elif digits is None:
        print("[skip] (b) needs scikit-learn's digits data set")
    if only in (None, "c"):
        rows = 5_120 if quick else 20_000
        out.append(
            Workload(
                f"(c) synthetic {rows:,} rows 784-512-256-10 relu/softmax, SGD, batch 256",
                [784, 512, 256, 10], "relu", "softmax", "sgd", 0.01, 256, synthetic_data(rows),
                1 if quick else 2,
            )
        )  # fmt: skip
    return out


# ----------------------------------------------------------------------------
# the NumPy floor: manual forward and backward, in-place updates


class NumpyMLP:
    """A fully connected net with hand-written backward; Keras' SGD/Adam update rules."""

    def __init__(self, w: Workload, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = w
        self.params = []
        for fan_in, fan_out in zip(w.sizes[:-1], w.sizes[1:], strict=True):
            limit = math.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, as Dense
            self.params.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(F32))
            self.params.append(np.zeros(fan_out, F32))
        self.slots = [np.zeros_like(p) for p in self.params]
        self.slots2 = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def logits(self, x: np.ndarray, cache: list | None = None) -> np.ndarray:
        a = x
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            z = a @ self.params[2 * i]
            z += self.params[2 * i + 1]
            if i == n_layers - 1:
                return z
            a = np.tanh(z) if self.w.hidden == "tanh" else np.maximum(z, 0)
            if cache is not None:
                cache.append(a)
        raise AssertionError

    def train_step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        acts: list[np.ndarray] = [xb]
        z = self.logits(xb, acts)
        batch = len(xb)
        if self.w.output == "sigmoid":
            z = z[:, 0]
            # BCE from logits: max(z, 0) - z y + log(1 + e^-|z|);  dL/dz = sigmoid(z) - y
            loss = float(np.mean(np.maximum(z, 0) - z * yb + np.log1p(np.exp(-np.abs(z)))))
            dz = ((1.0 / (1.0 + np.exp(-z)) - yb) / batch).astype(F32).reshape(-1, 1)
        else:
            shifted = z - z.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            rows = np.arange(batch)
            loss = float(np.mean(np.log(s[:, 0]) - shifted[rows, yb]))
            dz = e / s
            dz[rows, yb] -= 1.0
            dz /= batch
        grads = [None] * len(self.params)
        for i in reversed(range(len(self.params) // 2)):
            a = acts[i]
            grads[2 * i] = a.T @ dz
            grads[2 * i + 1] = dz.sum(axis=0)
            if i:
                da = dz @ self.params[2 * i].T
                dz = da * (1.0 - a * a) if self.w.hidden == "tanh" else da * (a > 0)
        self.update(grads)
        return loss

    def update(self, grads: list[np.ndarray]) -> None:
        lr = self.w.learning_rate
        self.t += 1
        if self.w.optimizer == "sgd":
            m = self.w.momentum
            for p, g, v in zip(self.params, grads, self.slots, strict=True):
                if m:
                    v *= m  # Keras: v = m v - lr g;  p += v
                    v -= lr * g
                    p += v
                else:
                    p -= lr * g
        else:  # Adam (Keras' form with epsilon 1e-7)
            b1, b2, eps = 0.9, 0.999, 1e-7
            step = lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
            for p, g, m1, m2 in zip(self.params, grads, self.slots, self.slots2, strict=True):
                m1 += (1 - b1) * (g - m1)
                m2 += (1 - b2) * (g * g - m2)
                p -= step * m1 / (np.sqrt(m2) + eps)

    def train(self, epochs: int) -> None:
        w, bs = self.w, self.w.batch_size
        rng = np.random.default_rng(SHUFFLE_SEED)  # per call, as fit(seed=...) does
        for _ in range(epochs):
            order = rng.permutation(len(w.x))
            xe, ye = w.x[order], w.y[order]
            for start in range(0, len(xe), bs):
                self.train_step(xe[start : start + bs], ye[start : start + bs])

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        return self.logits(x).argmax(axis=1)


# ----------------------------------------------------------------------------
# tinygrad_mlp through Sequential.fit


class Ours:
    def __init__(self, w: Workload, metrics: list[str] | None = None) -> None:
        from tinygrad_mlp import optimizers
        from tinygrad_mlp.layers import Dense
        from tinygrad_mlp.models import Sequential

        self.w = w
        model = Sequential()
        model.add(Dense(w.sizes[1], input_dim=w.sizes[0], activation=w.hidden))
        for units in w.sizes[2:-1]:
            model.add(Dense(units, activation=w.hidden))
        model.add(Dense(w.sizes[-1], activation=w.output))
        if w.optimizer == "sgd":
            opt = optimizers.SGD(w.learning_rate, w.momentum)
        else:
            opt = optimizers.Adam(w.learning_rate)
        loss = "binary_crossentropy" if w.output == "sigmoid" else "sparse_categorical_crossentropy"
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
        # start from the floor's initial weights: same init, same batches, comparable accuracy
        model.set_weights([p.copy() for p in NumpyMLP(w).params])
        self.model = model

    def train(self, epochs: int) -> None:
        self.model.fit(
            self.w.x,
            self.w.y,
            batch_size=self.w.batch_size,
            epochs=epochs,
            verbose=0,
            seed=SHUFFLE_SEED,
        )

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, verbose=0).argmax(axis=1)


# ----------------------------------------------------------------------------
# PyTorch eager


class Torch:
    def __init__(self, w: Workload, torch: Any) -> None:
        nn = torch.nn
        torch.manual_seed(0)
        self.torch, self.w = torch, w
        act = nn.Tanh if w.hidden == "tanh" else nn.ReLU
        mods: list[Any] = []
        for i, (a, b) in enumerate(zip(w.sizes[:-1], w.sizes[1:], strict=True)):
            mods.append(nn.Linear(a, b))
            if i < len(w.sizes) - 2:
                mods.append(act())
        self.net = nn.Sequential(*mods)
        with torch.no_grad():  # the floor's initial weights (Linear stores kernel^T)
            params = NumpyMLP(w).params
            linears = [m for m in mods if isinstance(m, nn.Linear)]
            for lin, kernel, bias in zip(linears, params[::2], params[1::2], strict=True):
                lin.weight.copy_(torch.from_numpy(kernel.T.copy()))
                lin.bias.copy_(torch.from_numpy(bias))
        if w.optimizer == "sgd":
            self.opt = torch.optim.SGD(
                self.net.parameters(), lr=w.learning_rate, momentum=w.momentum
            )
        else:
            self.opt = torch.optim.Adam(self.net.parameters(), lr=w.learning_rate, eps=1e-7)
        if w.output == "sigmoid":
            self.loss = nn.BCEWithLogitsLoss()
            self.x, self.y = torch.from_numpy(w.x), torch.from_numpy(w.y).reshape(-1, 1)
        else:
            self.loss = nn.CrossEntropyLoss()
            self.x, self.y = torch.from_numpy(w.x), torch.from_numpy(w.y)
        self.gen = torch.Generator().manual_seed(0)

    def train(self, epochs: int) -> None:
        torch, bs = self.torch, self.w.batch_size
        for _ in range(epochs):
            order = torch.randperm(len(self.x), generator=self.gen)
            xe, ye = self.x[order], self.y[order]
            for start in range(0, len(xe), bs):
                self.opt.zero_grad()
                loss = self.loss(self.net(xe[start : start + bs]), ye[start : start + bs])
                loss.backward()
                self.opt.step()
                loss.item()

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.net(self.torch.from_numpy(x)).argmax(dim=1).numpy()


# ----------------------------------------------------------------------------
# scikit-learn


class Sklearn:
    def __init__(self, w: Workload, neural_network: Any) -> None:
        self.w = w
        kwargs: dict[str, Any] = dict(
            hidden_layer_sizes=tuple(w.sizes[1:-1]),
            activation=w.hidden,
            solver=w.optimizer,
            alpha=0.0,
            batch_size=w.batch_size,
            learning_rate_init=w.learning_rate,
            shuffle=True,
            random_state=0,
        )
        if w.optimizer == "sgd":
            kwargs.update(momentum=w.momentum, nesterovs_momentum=False)
        else:
            kwargs.update(epsilon=1e-7)
        self.clf = neural_network.MLPClassifier(**kwargs)
        self.classes = np.unique(w.y)

    def train(self, epochs: int) -> None:
        for _ in range(epochs):
            self.clf.partial_fit(self.w.x, self.w.y, classes=self.classes)

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        return self.clf.predict(x)


# ----------------------------------------------------------------------------
# running


def implementations(w: Workload) -> dict[str, Callable[[], Any]]:
    """Constructors of every available implementation, ours first."""
    impls: dict[str, Callable[[], Any]] = {}
    try:
        from tinygrad_mlp import models, optimizers  # noqa: F401

        impls["tinygrad_mlp fit"] = lambda: Ours(w)
        if w.x_test is not None:  # what a per-batch accuracy metric costs on top
            impls["  + metrics=['accuracy']"] = lambda: Ours(w, ["accuracy"])
    except ImportError as exc:
        print(f"[skip] tinygrad_mlp's fit is not usable yet ({exc})")
    impls["numpy floor"] = lambda: NumpyMLP(w)
    torch = optional_import("torch")
    if torch is not None:
        impls[f"torch {torch.__version__} eager"] = lambda: Torch(w, torch)
    sk_nn = optional_import("sklearn.neural_network")
    if sk_nn is not None:
        impls["sklearn MLPClassifier"] = lambda: Sklearn(w, sk_nn)
    return impls


def time_training(impl: Any, epochs: int, repeat: int) -> float:
    """Best seconds per epoch over ``repeat`` runs of ``epochs`` epochs (after one warm-up)."""
    impl.train(1)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        impl.train(epochs)
        best = min(best, (time.perf_counter() - start) / epochs)
    return best


def run_workload(w: Workload, repeat: int) -> tuple[list[list], dict[str, float], dict]:
    times: dict[str, float] = {}
    accuracy: dict[str, float] = {}
    for name, make in implementations(w).items():
        try:
            impl = make()
            times[name] = time_training(impl, w.epochs, repeat)
        except Exception as exc:  # a peer failing must not hide the others' numbers
            print(f"[error] {name}: {exc.__class__.__name__}: {exc}")
            continue
        if w.x_test is not None:
            accuracy[name] = float(np.mean(impl.predict_labels(w.x_test) == w.y_test))
    floor = times.get("numpy floor")
    torch_t = next((t for n, t in times.items() if n.startswith("torch")), None)
    rows = []
    for name, t in times.items():
        row = [
            name,
            t * 1e3,
            w.steps / t,
            f"{t / floor:.2f}x" if floor else "-",
            f"{torch_t / t:.2f}x" if torch_t else "-",
        ]
        if w.x_test is not None:
            row.append(f"{accuracy[name]:.4f}")
        rows.append(row)
    return rows, times, accuracy


def rss_mb() -> float:
    """The resident set size of this process now, in MB (Linux /proc; else peak RSS)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_check(total_steps: int = 10_000) -> None:
    w = workloads(quick=True, only="a")[0]
    try:
        impl = Ours(w)
    except ImportError as exc:
        print(f"[skip] memory check needs tinygrad_mlp's fit ({exc})")
        return
    chunk = 2_000
    epochs_per_chunk = math.ceil(chunk / w.steps)
    impl.train(1)  # build the model and the optimizer's slots first
    gc.collect()
    steps = w.steps
    readings = [(steps, rss_mb())]
    while steps < total_steps:
        impl.train(epochs_per_chunk)
        steps += epochs_per_chunk * w.steps
        readings.append((steps, rss_mb()))
    cycles = gc.collect()
    print(
        "memory over training steps of (a): "
        + ", ".join(f"{s:,} steps {mb:.1f} MB" for s, mb in readings)
    )
    growth = readings[-1][1] - readings[0][1]
    print(
        f"RSS growth from the first to the last reading: {growth:+.1f} MB; "
        f"gc.collect() afterwards found {cycles} unreachable objects"
    )


def verdict(key: str, times: dict[str, float], accuracy: dict[str, float]) -> str:
    """' -> met' or ' -> missed (...)' for a workload's target, when the rows exist."""
    ours, floor = times.get("tinygrad_mlp fit"), times.get("numpy floor")
    torch_t = next((t for n, t in times.items() if n.startswith("torch")), None)
    sk = times.get("sklearn MLPClassifier")
    if ours is None or floor is None:
        return ""
    checks = []
    if key == "a" and torch_t is not None:
        checks.append((torch_t / ours >= 2.0, f"{torch_t / ours:.2f}x torch"))
    if key == "b":
        checks.append((ours / floor <= 1.3, f"{ours / floor:.2f}x the floor's time"))
        if sk is not None:
            checks.append((ours < sk, f"{sk / ours:.2f}x faster than sklearn"))
        if "tinygrad_mlp fit" in accuracy and "numpy floor" in accuracy:
            ok = accuracy["tinygrad_mlp fit"] >= accuracy["numpy floor"]
            checks.append((ok, f"accuracy {accuracy['tinygrad_mlp fit']:.4f}"))
    if key == "c":
        checks.append((ours / floor <= 1.15, f"{ours / floor:.2f}x the floor's time"))
    if not checks:
        return ""
    status = "met" if all(ok for ok, _ in checks) else "MISSED"
    return f" -> {status} ({', '.join(text for _, text in checks)})"


TARGETS = {
    "a": "target: tinygrad_mlp >= 2x torch's steps/s",
    "b": "target: within 1.3x of the floor, faster than sklearn, accuracy >= floor's",
    "c": "target: within 1.15x of the floor",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, smaller (c)")
    parser.add_argument("--only", choices=["a", "b", "c"], help="run one workload")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument(
        "--threads",
        type=int,
        help="BLAS and torch threads for every implementation (default: the libraries' own; "
        "1 gives steadier numbers on a busy machine)",
    )
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else 3
    print(f"tinygrad_mlp training benchmark ({'quick' if args.quick else 'full'})")
    print(machine_line())
    torch = optional_import("torch")
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        print(f"torch threads: {torch.get_num_threads()}")
    import os

    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    for w in workloads(args.quick, args.only):
        print()
        print(
            f"{w.name}: {len(w.x):,} rows, {w.steps} steps/epoch, "
            f"best of {repeat}x{w.epochs} epochs"
        )
        rows, times, accuracy = run_workload(w, repeat)
        headers = ["implementation", "ms/epoch", "steps/s", "time vs floor", "speed vs torch"]
        if w.x_test is not None:
            headers.append("test accuracy")
        print(table(headers, rows))
        print(TARGETS[w.name[1]] + verdict(w.name[1], times, accuracy))
    if not args.no_memory and args.only in (None, "a"):
        print()
        memory_check()


if __name__ == "__main__":
    main()
