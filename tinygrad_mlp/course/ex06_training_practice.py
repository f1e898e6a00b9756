"""Exercise 6 — training practice.

* Learning rate too low / too high / adequate: loss curves side by side.
* Batch (batch_size = all), stochastic (1) and mini-batch (32) gradient descent.
* Over- and under-fitting, and early stopping on a validation set.
* Dropout, the 60/20/20 train/validation/test split.
* Class weights for skewed data.
"""

import os
import sys
import time

import numpy as np

from tinygrad_mlp.callbacks import EarlyStopping
from tinygrad_mlp.datasets import circle
from tinygrad_mlp.layers import Dense, Dropout
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.optimizers import SGD, Adagrad, Adam, RMSprop
from tinygrad_mlp.plotting import plot_learning_rates
from tinygrad_mlp.preprocessing import StandardScaler, train_val_test_split


def mlp(hidden=(16, 16), learning_rate=0.1, dropout=0.0, seed=0) -> Sequential:
    from tinygrad_mlp.initializers import GlorotUniform

    model = Sequential()
    for i, units in enumerate(hidden):
        kwargs = {"input_dim": 2} if i == 0 else {}
        model.add(
            Dense(units, activation="tanh", kernel_initializer=GlorotUniform(seed + i), **kwargs)
        )
        if dropout:
            model.add(Dropout(dropout, seed=seed))
    model.add(Dense(1, activation="sigmoid", kernel_initializer=GlorotUniform(seed + 99)))
    model.compile(
        loss="binary_crossentropy", optimizer=SGD(learning_rate, 0.9), metrics=["binary_accuracy"]
    )
    return model


def vanishing_gradients(x: np.ndarray, y: np.ndarray, out_dir: str) -> dict:
    """A 10-layer network's gradient norm per layer: sigmoid's shrink towards the input."""
    from tinygrad_mlp import Value
    from tinygrad_mlp.engine import grad
    from tinygrad_mlp.initializers import GlorotUniform
    from tinygrad_mlp.losses import BinaryCrossentropy
    from tinygrad_mlp.plotting import plot_gradient_norms
    from tinygrad_mlp.utils import draw_graph

    norms, graphs = {}, {}
    for activation in ("sigmoid", "relu"):
        layers = [
            Dense(8, activation=activation, kernel_initializer=GlorotUniform(k),
                  input_dim=2 if k == 0 else None)
            for k in range(10)
        ] + [Dense(1, activation="sigmoid", kernel_initializer=GlorotUniform(99))]  # fmt: skip
        model = Sequential(layers)
        out = Value(x[:64], requires_grad=False)
        for layer in model.layers:
            out = layer(out)
        loss = BinaryCrossentropy()(y[:64].reshape(-1, 1), out)
        grads = grad(loss, [layer.kernel for layer in model.layers[:10]])
        norms[f"10 x {activation}"] = [float(np.linalg.norm(g)) for g in grads]
        loss.backward()
        graphs[activation] = draw_graph(
            loss, to_file=os.path.join(out_dir, f"deep_{activation}_graph.png"), max_nodes=80
        )
    plot_gradient_norms(norms, to_file=os.path.join(out_dir, "vanishing_gradients.png"))
    s, r = norms["10 x sigmoid"], norms["10 x relu"]
    print(
        f"vanishing gradients: |dL/dW| in layer 1 / layer 10 = {s[0] / s[-1]:.2g} with sigmoid, "
        f"{r[0] / r[-1]:.2g} with relu (vanishing_gradients.png, deep_*_graph.png)"
    )
    return norms


def main(out_dir: str = "out", quick: bool = False) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    epochs = 15 if quick else 60
    x, y = circle(n=1000, seed=1)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = train_val_test_split(x, y, seed=0)
    scaler = StandardScaler().fit(x_train)  # fit on training data only
    x_train, x_val, x_test = (scaler.transform(a) for a in (x_train, x_val, x_test))
    print(f"60/20/20 split: {len(x_train)} train, {len(x_val)} validation, {len(x_test)} test")

    histories = {}
    for label, lr in (
        ("too low (0.0005)", 0.0005),
        ("too high (1.0)", 1.0),
        ("adequate (0.1)", 0.1),
    ):
        histories[label] = mlp(learning_rate=lr).fit(
            x_train,
            y_train,
            epochs=epochs,
            batch_size=32,
            verbose=0,
            validation_data=(x_val, y_val),
        )
        print(f"learning rate {label:18s}: final loss {histories[label].history['loss'][-1]:.4f}")
    plot_learning_rates(histories, to_file=os.path.join(out_dir, "learning_rates.png"))

    # same number of epochs; one epoch is 1 step (batch), 600 steps (stochastic) or 19 steps
    # (mini-batch). Stochastic steps are noisy, so they take a smaller learning rate.
    settings = (("batch", len(x_train), 0.1), ("stochastic", 1, 0.01), ("mini-batch", 32, 0.1))
    runs = {}
    for label, batch_size, lr in settings:
        start = time.perf_counter()
        h = mlp(learning_rate=lr).fit(
            x_train, y_train, epochs=max(epochs // 3, 3), batch_size=batch_size, verbose=0
        )
        runs[f"{label} (batch_size={batch_size})"] = h
        print(
            f"{label:10s} (batch_size={batch_size:3d}, lr={lr}): loss {h.history['loss'][-1]:.4f}"
            f" in {time.perf_counter() - start:.2f}s"
        )
    plot_learning_rates(runs, to_file=os.path.join(out_dir, "batch_stochastic_minibatch.png"))

    small = mlp(hidden=(2,)).fit(
        x_train, y_train, epochs=epochs, verbose=0, validation_data=(x_val, y_val)
    )
    big = mlp(hidden=(128, 128), learning_rate=0.05).fit(
        x_train[:60], y_train[:60], epochs=200, verbose=0, validation_data=(x_val, y_val)
    )
    plot_learning_rates(
        {"under-fitting: 2 hidden units": small, "over-fitting: 128x128 on 60 points": big},
        to_file=os.path.join(out_dir, "under_over_fitting.png"),
    )
    print(
        f"under-fitting (2 hidden units): train acc {small.history['binary_accuracy'][-1]:.3f}, "
        f"val acc {small.history['val_binary_accuracy'][-1]:.3f}"
    )
    print(
        f"over-fitting (128x128 on 60 points): train acc {big.history['binary_accuracy'][-1]:.3f}, "
        f"val acc {big.history['val_binary_accuracy'][-1]:.3f}"
    )

    stopper = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    model = mlp(dropout=0.1)
    h = model.fit(
        x_train,
        y_train,
        epochs=epochs * 5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[stopper],
    )
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    print(
        f"early stopping + dropout: stopped after {len(h.history['loss'])} epochs, "
        f"test accuracy {test_acc:.3f}"
    )
    from tinygrad_mlp.plotting import plot_history

    best = int(np.argmin(h.history["val_loss"])) + 1
    plot_history(
        h,
        to_file=os.path.join(out_dir, "early_stopping_history.png"),
        marks={"stopped": len(h.history["loss"]), "best, restored": best},
    )
    print(f"  stopped at epoch {len(h.history['loss'])}, weights restored from epoch {best}")

    optimizers = {
        "SGD(0.1)": SGD(0.1),
        "SGD(0.1, momentum 0.9)": SGD(0.1, 0.9),
        "SGD(0.1, 0.9, nesterov)": SGD(0.1, 0.9, nesterov=True),
        "Adagrad(0.1)": Adagrad(0.1),
        "RMSprop(0.01)": RMSprop(0.01),
        "Adam(0.01)": Adam(0.01),
    }
    compared = {}
    for label, optimizer in optimizers.items():
        model = mlp()
        model.compile(loss="binary_crossentropy", optimizer=optimizer)
        compared[label] = model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
        print(f"{label:24s}: final loss {compared[label].history['loss'][-1]:.4f}")
    plot_learning_rates(compared, to_file=os.path.join(out_dir, "optimizers.png"))
    vanishing_gradients(x_train, y_train, out_dir)

    # skewed data: keep only a tenth of the positives, then weight them up
    keep = (y_train == 0) | (np.arange(len(y_train)) % 10 == 0)
    xs, ys = x_train[keep], y_train[keep]
    ratio = float((ys == 0).sum() / max((ys == 1).sum(), 1))
    for label, weights in (("no class weights", None), ("class_weight", {0: 1.0, 1: ratio})):
        m = mlp()
        m.fit(xs, ys, epochs=epochs, verbose=0, class_weight=weights)
        pred = m.predict(x_test, verbose=0).ravel() > 0.5
        recall = float(pred[y_test == 1].mean())
        print(f"skewed data, {label:16s}: recall on the rare class {recall:.3f}")
    return {k: v.history["loss"][-1] for k, v in histories.items()}


if __name__ == "__main__":
    main(*sys.argv[1:2])
