"""Training speed: tinygrad_mlp's ``fit`` against NumPy, PyTorch and scikit-learn.

Run from the repository root::

    python benchmarks/train.py             # full run (about 5 minutes with jax and Keras)
    python benchmarks/train.py --quick     # fewer epochs, a smaller (c)
    python benchmarks/train.py --threads 1 # one BLAS/torch thread: steadier on a busy machine

Every implementation trains the same network on the same float32 data with the
same batch size, optimizer and learning rate, shuffling every epoch:

* ``tinygrad_mlp``: ``Sequential`` + ``compile`` + ``fit(verbose=0)``, as a user
  calls it (no metrics, so only the loss is computed per batch, like the floor),
  which replays the planned step (``replay.py``); the ``eager`` row is the same
  fit with ``compile(jit_compile=False)``, every step through the Value graph;
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

Peers included where installed (``--peers jax,keras``): ``jax.jit`` (the whole
step compiled with ``jax.value_and_grad``, each epoch's batches placed on the
device before its loop) and Keras 3's ``fit`` (torch backend). The ``GEMM floor``
row times only the 2L-1 matrix products a step of an L-layer MLP needs (8 for
three layers), into preallocated buffers: the physical floor.

Every implementation is built and warmed up with one epoch, then all are timed
interleaved, repeat by repeat with the order rotating, so a busy moment on a
shared machine touches them alike; the table gives each one's median time and
its per-repeat ratios to the floors and to torch (median, p10-p90 spread). A
memory check then trains (a) for 10,000 steps and prints the RSS every 2,000.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
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
    def __init__(self, w: Workload, metrics: list[str] | None = None, eager: bool = False) -> None:
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
        # jit_compile=False: every step through the Value graph (the replayed step's baseline)
        model.compile(optimizer=opt, loss=loss, metrics=metrics,
                      jit_compile=False if eager else "auto")  # fmt: skip
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
# jax.jit: the whole step compiled, batches already on the device


class JaxJit:
    """``jax.jit`` of forward + ``jax.value_and_grad`` + the optimizer update, with the
    epoch's shuffled batches placed on the device before the timed loop of steps."""

    def __init__(self, w: Workload, jax: Any) -> None:
        import jax.numpy as jnp

        self.jax, self.jnp, self.w = jax, jnp, w
        params = [jnp.asarray(p) for p in NumpyMLP(w).params]
        zeros = [jnp.zeros_like(p) for p in params]
        self.state = (params, zeros, [jnp.zeros_like(p) for p in params], jnp.asarray(0.0))
        hidden = jnp.tanh if w.hidden == "tanh" else jax.nn.relu
        lr, momentum, adam = w.learning_rate, w.momentum, w.optimizer == "adam"

        def loss_fn(params: list, xb: Any, yb: Any) -> Any:
            a = xb
            n = len(params) // 2
            for i in range(n):
                a = a @ params[2 * i] + params[2 * i + 1]
                if i < n - 1:
                    a = hidden(a)
            if w.output == "sigmoid":
                z = a[:, 0]
                return jnp.mean(jnp.maximum(z, 0) - z * yb + jnp.log1p(jnp.exp(-jnp.abs(z))))
            return -jnp.mean(jax.nn.log_softmax(a)[jnp.arange(a.shape[0]), yb])

        def step(state: tuple, xb: Any, yb: Any) -> tuple:
            params, m1, m2, t = state
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            t = t + 1
            if adam:
                b1, b2, eps = 0.9, 0.999, 1e-7
                size = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
                m1 = [m + (1 - b1) * (g - m) for m, g in zip(m1, grads, strict=True)]
                m2 = [v + (1 - b2) * (g * g - v) for v, g in zip(m2, grads, strict=True)]
                params = [p - size * m / (jnp.sqrt(v) + eps)
                          for p, m, v in zip(params, m1, m2, strict=True)]  # fmt: skip
            elif momentum:
                m1 = [momentum * v - lr * g for v, g in zip(m1, grads, strict=True)]
                params = [p + v for p, v in zip(params, m1, strict=True)]
            else:
                params = [p - lr * g for p, g in zip(params, grads, strict=True)]
            return (params, m1, m2, t), loss

        self.step = jax.jit(step)
        # three shuffled epochs of full batches, placed on the device before any timing
        rng = np.random.default_rng(SHUFFLE_SEED)
        bs = w.batch_size
        self.epochs = []
        for _ in range(3):
            order = rng.permutation(len(w.x))
            xe, ye = w.x[order], w.y[order]
            self.epochs.append([(jax.device_put(xe[s : s + bs]), jax.device_put(ye[s : s + bs]))
                                for s in range(0, len(xe) - bs + 1, bs)])  # fmt: skip
        self.seen = 0

    def train(self, epochs: int) -> None:
        for _ in range(epochs):
            batches = self.epochs[self.seen % len(self.epochs)]
            self.seen += 1
            for xb, yb in batches:
                self.state, loss = self.step(self.state, xb, yb)
            loss.block_until_ready()

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        params = self.state[0]
        a = self.jnp.asarray(x)
        for i in range(len(params) // 2):
            a = a @ params[2 * i] + params[2 * i + 1]
            if i < len(params) // 2 - 1:
                a = self.jnp.tanh(a) if self.w.hidden == "tanh" else self.jax.nn.relu(a)
        return np.asarray(a).argmax(axis=1)


# ----------------------------------------------------------------------------
# the GEMM floor: only the matrix products a step needs


class GemmFloor:
    """Per step the 2L - 1 products of an L-layer MLP (forward, weight gradients, input
    gradients; 8 for 3 layers... 3 + 3 + 2), into preallocated buffers: the physical floor.
    Every row of the epoch, as the others train on: the last, shorter batch included."""

    def __init__(self, w: Workload) -> None:
        self.w = w
        self.params = NumpyMLP(w).params[::2]
        self.grads = [np.zeros_like(p) for p in self.params]
        sizes = {w.batch_size, len(w.x) % w.batch_size} - {0}
        self.acts = {n: [np.zeros((n, k), F32) for k in w.sizes] for n in sizes}

    def train(self, epochs: int) -> None:
        w, bs = self.w, self.w.batch_size
        grads, params = self.grads, self.params
        for _ in range(epochs):
            for start in range(0, len(w.x), bs):
                batch = w.x[start : start + bs]
                acts = self.acts[len(batch)]
                acts[0][...] = batch
                for i, p in enumerate(params):
                    np.matmul(acts[i], p, out=acts[i + 1])
                delta = acts[-1]
                for i in reversed(range(len(params))):
                    np.matmul(acts[i].T, delta, out=grads[i])
                    if i:
                        np.matmul(delta, params[i].T, out=acts[i])
                        delta = acts[i]

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


# ----------------------------------------------------------------------------
# Keras 3 (torch backend), as a user calls it


class KerasFit:
    def __init__(self, w: Workload, keras: Any) -> None:
        self.w = w
        model = keras.Sequential([keras.Input((w.sizes[0],))])
        for units in w.sizes[1:-1]:
            model.add(keras.layers.Dense(units, activation=w.hidden))
        model.add(keras.layers.Dense(w.sizes[-1], activation=w.output))
        opt = (keras.optimizers.SGD(w.learning_rate, momentum=w.momentum)
               if w.optimizer == "sgd" else keras.optimizers.Adam(w.learning_rate))  # fmt: skip
        loss = "binary_crossentropy" if w.output == "sigmoid" else "sparse_categorical_crossentropy"
        model.compile(optimizer=opt, loss=loss)
        model.set_weights([p.copy() for p in NumpyMLP(w).params])
        self.model = model

    def train(self, epochs: int) -> None:
        self.model.fit(self.w.x, self.w.y, batch_size=self.w.batch_size, epochs=epochs, verbose=0)

    def predict_labels(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, verbose=0).argmax(axis=1)


# ----------------------------------------------------------------------------
# running


def implementations(w: Workload, peers: set[str]) -> dict[str, Callable[[], Any]]:
    """Constructors of every available implementation, ours first."""
    impls: dict[str, Callable[[], Any]] = {}
    try:
        from tinygrad_mlp import models, optimizers  # noqa: F401

        impls["tinygrad_mlp fit"] = lambda: Ours(w)
        if w.x_test is not None:  # what a per-batch accuracy metric costs on top
            impls["  + metrics=['accuracy']"] = lambda: Ours(w, ["accuracy"])
        impls["  eager (jit_compile=False)"] = lambda: Ours(w, eager=True)
    except ImportError as exc:
        print(f"[skip] tinygrad_mlp's fit is not usable yet ({exc})")
    impls["numpy floor"] = lambda: NumpyMLP(w)
    impls["GEMM floor (8 products)"] = lambda: GemmFloor(w)
    torch = optional_import("torch")
    if torch is not None:
        impls[f"torch {torch.__version__} eager"] = lambda: Torch(w, torch)
    jax = optional_import("jax") if "jax" in peers else None
    if jax is not None:
        impls[f"jax {jax.__version__} jit"] = lambda: JaxJit(w, jax)
    if "keras" in peers:
        import os

        os.environ.setdefault("KERAS_BACKEND", "torch")
        keras = optional_import("keras")
        if keras is not None:
            impls[f"keras {keras.__version__} fit"] = lambda: KerasFit(w, keras)
    sk_nn = optional_import("sklearn.neural_network")
    if sk_nn is not None:
        impls["sklearn MLPClassifier"] = lambda: Sklearn(w, sk_nn)
    return impls


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def _ratio_text(
    name: str, ts: list[float], per: dict[str, list[float]], ref: str | None, invert: bool = False
) -> str:
    """The per-repeat time ratio to ``ref`` (or its speed ratio): median (p10-p90)."""
    if ref is None or ref == name or ref not in per:
        return "-"
    rs = [(b / a if invert else a / b) for a, b in zip(ts, per[ref], strict=True)]
    low, high = _percentile(rs, 0.1), _percentile(rs, 0.9)
    return f"{statistics.median(rs):.2f}x ({low:.2f}-{high:.2f})"


def run_workload(
    w: Workload, repeat: int, peers: set[str]
) -> tuple[list[list], dict[str, float], dict]:
    """Every implementation built and warmed up, then timed interleaved repeat by repeat
    (the order rotating), so a disturbed moment touches all of them alike. Per repeat the
    ratio to the floor and to torch; the table gives medians and the p10-p90 spread."""
    impls: dict[str, Any] = {}
    for name, make in implementations(w, peers).items():
        try:
            impl = make()
            impl.train(1)  # warm-up (and jax's compilation)
            impls[name] = impl
        except Exception as exc:  # a peer failing must not hide the others' numbers
            print(f"[error] {name}: {exc.__class__.__name__}: {exc}")
    per: dict[str, list[float]] = {name: [] for name in impls}
    names = list(impls)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            impls[name].train(w.epochs)
            per[name].append((time.perf_counter() - start) / w.epochs)
    times = {name: statistics.median(ts) for name, ts in per.items()}
    accuracy: dict[str, float] = {}
    if w.x_test is not None:
        for name, impl in impls.items():
            if not isinstance(impl, GemmFloor):
                accuracy[name] = float(np.mean(impl.predict_labels(w.x_test) == w.y_test))
    torch_name = next((n for n in times if n.startswith("torch")), None)
    rows = []
    for name in names:
        ts = per[name]
        ratio = _ratio_text
        row = [name, times[name] * 1e3, w.steps / times[name],
               ratio(name, ts, per, "numpy floor"),
               ratio(name, ts, per, "GEMM floor (8 products)"),
               ratio(name, ts, per, torch_name, invert=True)]  # fmt: skip
        if w.x_test is not None:
            row.append(f"{accuracy[name]:.4f}" if name in accuracy else "-")
        rows.append(row)
    return rows, per, accuracy


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


def predict_check(repeat: int, rows: int = 100_000) -> None:
    """``predict`` on ``rows`` rows of the digits network at the default batch size (32),
    against the floor's forward pass and PyTorch's, batch by batch, interleaved."""
    w = next((x for x in workloads(quick=True, only="b")), None)
    if w is None:
        return
    x = np.random.default_rng(0).random((rows, 64)).astype(F32)
    ours, floor = Ours(w), NumpyMLP(w)

    def run_ours() -> None:
        ours.model.predict(x, verbose=0)

    def run_floor() -> None:
        out = np.empty((len(x), 10), F32)
        for s in range(0, len(x), 32):
            z = floor.logits(x[s : s + 32])
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out[s : s + 32] = e / e.sum(axis=1, keepdims=True)

    fns: dict[str, Callable[[], None]] = {
        "tinygrad_mlp predict": run_ours,
        "numpy floor": run_floor,
    }
    torch = optional_import("torch")
    if torch is not None:
        net = Torch(w, torch).net

        def run_torch() -> None:
            with torch.no_grad():
                xt = torch.from_numpy(x)
                for s in range(0, len(x), 32):
                    torch.softmax(net(xt[s : s + 32]), dim=1)

        fns[f"torch {torch.__version__} eager"] = run_torch
    per: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for name in names:
        fns[name]()  # warm-up
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            per[name].append(time.perf_counter() - start)
    rows_out = [[name, statistics.median(ts) * 1e3, _ratio_text(name, ts, per, "numpy floor")]
                for name, ts in per.items()]  # fmt: skip
    print(f"predict on {rows:,} rows of (b)'s network, batch size 32 (median of {repeat}):")
    print(table(["implementation", "ms", "time vs numpy floor"], rows_out))
    ok = all(statistics.median(per["tinygrad_mlp predict"]) < statistics.median(ts)
             for name, ts in per.items() if name != "tinygrad_mlp predict")  # fmt: skip
    print("target: faster than the floor and than PyTorch -> " + ("met" if ok else "MISSED"))


def verdict(key: str, per: dict[str, list[float]]) -> str:
    """' -> met' or ' -> MISSED (...)' for a workload's targets, when the rows exist. Each
    ratio is the median over repeats of the two times taken in the same repeat (as the
    table's columns), so a busy stretch of the run moves both sides of a ratio alike."""

    def ratio(a: str | None, b: str | None) -> float | None:  # median of per-repeat a / b
        if a not in per or b not in per:
            return None
        return statistics.median(x / y for x, y in zip(per[a], per[b], strict=True))

    ours = "tinygrad_mlp fit"
    torch_name = next((n for n in per if n.startswith("torch")), None)
    jax_name = next((n for n in per if n.startswith("jax")), None)
    to_floor = ratio(ours, "numpy floor")
    if to_floor is None:
        return ""
    to_gemm, to_jax = ratio(ours, "GEMM floor (8 products)"), ratio(ours, jax_name)
    torch_speed = ratio(torch_name, ours)  # torch's time / ours: our steps/s over torch's
    with_metric = ratio("  + metrics=['accuracy']", "numpy floor")
    checks = []
    if key == "a":
        checks.append((to_floor <= 1.3, f"{to_floor:.2f}x the floor's time"))
        if torch_speed is not None:
            checks.append((torch_speed >= 3.0, f"{torch_speed:.2f}x torch's steps/s"))
        if to_jax is not None:  # the stretch target
            checks.append((to_jax <= 1.0, f"{1 / to_jax:.2f}x jax.jit's steps/s"))
    if key == "b":
        checks.append((to_floor <= 1.15, f"{to_floor:.2f}x the floor's time"))
        if with_metric is not None:
            checks.append((with_metric <= 1.2, f"{with_metric:.2f}x with accuracy"))
        if to_jax is not None:
            checks.append((to_jax < 1.0, f"{1 / to_jax:.2f}x jax.jit's steps/s"))
    if key == "c":
        if to_gemm is not None:
            checks.append((to_gemm <= 1.15, f"{to_gemm:.2f}x the GEMM time"))
        if torch_speed is not None:
            checks.append((torch_speed >= 1.0, f"{torch_speed:.2f}x torch's steps/s"))
    if not checks:
        return ""
    status = "met" if all(ok for ok, _ in checks) else "MISSED"
    return f" -> {status} ({', '.join(text for _, text in checks)})"


TARGETS = {
    "a": "targets: within 1.3x of the floor, >= 3x torch's steps/s (stretch: >= jax.jit's)",
    "b": "targets: within 1.15x of the floor (1.2x with accuracy), faster than jax.jit",
    "c": "targets: within 1.15x of the 8-GEMM time, no slower than torch",
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
    parser.add_argument("--repeats", type=int, help="interleaved repeats (default 11, quick 5)")
    parser.add_argument("--peers", help="optional peers to include: jax,keras (default both)")
    args = parser.parse_args(argv)
    repeat = args.repeats or (5 if args.quick else 11)
    peers = set(args.peers.split(",")) if args.peers else {"jax", "keras"}
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
            f"median of {repeat} interleaved repeats of {w.epochs} epochs"
        )
        rows, per, accuracy = run_workload(w, repeat, peers)
        headers = ["implementation", "ms/epoch", "steps/s", "time vs numpy floor",
                   "time vs GEMM floor", "speed vs torch"]  # fmt: skip
        if w.x_test is not None:
            headers.append("test accuracy")
        print(table(headers, rows))
        print(TARGETS[w.name[1]] + verdict(w.name[1], per))
    if args.only in (None, "b"):
        print()
        predict_check(repeat)
    if not args.no_memory and args.only in (None, "a"):
        print()
        memory_check()


if __name__ == "__main__":
    main()
